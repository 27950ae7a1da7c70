#!/bin/sh
# package.installed_consumer (docs/install.md, "The Debian packages"): the release as a user gets it.
#  1. cpack makes libist-dev and ist-tools from this build tree (the programs already built: nothing
#     compiles); their fields are checked, and every package they depend on must be one Debian 12
#     knows (installed here by `make deps`);
#  2. both are unpacked with `dpkg -x` into a scratch root (nothing is installed on this machine);
#  3. the consumer projects of tests/consumers, copied out of the source tree, are built against the
#     unpacked files only (find_package with ist_ROOT, pkg-config with PKG_CONFIG_PATH) and run;
#     no compile command may name the source or build tree;
#  4. every unpacked program answers --version (tests/programs/check_version.cmake), ist-train's shown;
#     ist-export is among them where this build has it (libonnx-dev found).
# Prints, last: "package ist-dev VERSION: installed consumer OK".
#   check_package.sh CPACK CMAKE BUILD_DIR SOURCE_DIR VERSION CXX GENERATOR EXPECT_MPI WORK_DIR
set -eu
cpack=$1 cmake=$2 build=$3 source=$4 version=$5 cxx=$6 generator=$7 expect_mpi=$8 work=$9
fail() { echo "package: FAILED: $*" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"

# 1. The packages and their fields.
"$cpack" --config "$build/CPackConfig.cmake" -B "$work/packages" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack"; }
arch=$(dpkg --print-architecture)
dev=$work/packages/libist-dev_${version}_all.deb
tools=$work/packages/ist-tools_${version}_$arch.deb
for deb in "$dev" "$tools"; do [ -f "$deb" ] || fail "cpack did not write $deb (it wrote: $(ls "$work/packages"))"; done
field() { dpkg-deb --field "$1" "$2"; }
expect_field() {  # deb field value
  got=$(field "$1" "$2")
  [ "$got" = "$3" ] || fail "$(basename "$1"): $2 is '$got', expected '$3'"
}
expect_field "$dev" Package libist-dev
expect_field "$dev" Version "$version"
expect_field "$dev" Architecture all
expect_field "$tools" Package ist-tools
expect_field "$tools" Version "$version"
expect_field "$tools" Architecture "$arch"
# Each dependency names a real package: one of its alternatives is known to dpkg on this Debian 12.
for deb in "$dev" "$tools"; do
  field "$deb" Depends | tr ',' '\n' | while read -r alternatives; do
    [ -n "$alternatives" ] || continue
    known=no
    for name in $(echo "$alternatives" | tr '|' '\n' | sed 's/(.*)//; s/:any//'); do
      dpkg-query -W "$name" >/dev/null 2>&1 && known=yes
    done
    [ $known = yes ] || fail "$(basename "$deb"): Depends on '$alternatives', which no installed package provides"
  done
done
for needed in libxtensor-dev libxtensor-blas-dev xtl-dev libopenblas-dev zlib1g-dev; do
  field "$dev" Depends | grep -q "$needed" || fail "libist-dev does not depend on $needed"
done
field "$tools" Depends | grep -q libopenblas || fail "ist-tools does not depend on OpenBLAS (dpkg-shlibdeps)"
echo "package: $(basename "$dev"): Depends: $(field "$dev" Depends)"
echo "package: $(basename "$tools"): Depends: $(field "$tools" Depends)"

# 2. Unpacked into a scratch root, as dpkg would install them under /.
root=$work/root
dpkg -x "$dev" "$root"
dpkg -x "$tools" "$root"
prefix=$root/usr
for f in include/ist/ist.hpp include/ist/version.hpp share/cmake/ist/istConfig.cmake share/pkgconfig/ist.pc \
         share/ist/digits.csv.gz share/doc/libist-dev/copyright share/doc/libist-dev/changelog.gz share/doc/ist-tools/copyright bin/ist-train; do
  [ -e "$prefix/$f" ] || fail "the packages do not install /usr/$f"
done
# ist-export where this build has it (ONNX found): in ist-tools, with ONNX's library among its Depends.
if [ -x "$build/examples/ist-export" ]; then
  [ -x "$prefix/bin/ist-export" ] || fail "ist-tools does not install /usr/bin/ist-export, which this build has"
  field "$tools" Depends | grep -q libonnx || fail "ist-tools does not depend on ONNX's library (dpkg-shlibdeps, for ist-export)"
fi

# 3. The consumer projects, out of the source tree, against the unpacked files only.
consumers=$work/consumers
mkdir -p "$consumers"
cp -r "$source/tests/consumers/common.cmake" "$source/tests/consumers/main.cpp" "$source/tests/consumers/find_package" "$consumers/"
"$cmake" -S "$consumers/find_package" -B "$work/find_package" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -Dist_ROOT="$prefix" -DIST_EXPECT_MPI="$expect_mpi" >"$work/find_package.log" 2>&1 ||
  { cat "$work/find_package.log"; fail "find_package consumer: configure"; }
"$cmake" --build "$work/find_package" >>"$work/find_package.log" 2>&1 || { cat "$work/find_package.log"; fail "find_package consumer: build"; }
# Paths into the trees other than this scratch directory (which a build tree may hold) are refused.
names_a_tree() {  # file: whether it names the source or build tree outside $work
  sed "s|$work||g" "$1" | grep -q -e "$source/" -e "$build/"
}
! names_a_tree "$work/find_package/compile_commands.json" || fail "the find_package consumer compiles with files of $source or $build"
"$work/find_package/consumer" "$prefix/share/ist" "$version" || fail "find_package consumer: run"
sh "$source/tests/consumers/pkg_config.sh" "$cxx" "$prefix/share/pkgconfig" "$prefix/share/ist" "$consumers/main.cpp" \
  "$work/pkg_config" "$version" >"$work/pkg_config.log" 2>&1 || { cat "$work/pkg_config.log"; fail "pkg-config consumer"; }
! names_a_tree "$work/pkg_config.log" || fail "the pkg-config consumer compiles with files of $source or $build"
tail -n 1 "$work/pkg_config.log"

# 4. The programs.
"$cmake" -DPROGRAMS="$(ls -d "$prefix"/bin/* | paste -sd ';')" -DVERSION="$version" \
  -P "$source/tests/programs/check_version.cmake" >"$work/versions.log" 2>&1 || { cat "$work/versions.log"; fail "--version"; }
echo "package: $(ls "$prefix/bin" | wc -l) programs answer --version; installed ist-train --version: $("$prefix/bin/ist-train" --version)"
echo "package ist-dev $version: installed consumer OK"
