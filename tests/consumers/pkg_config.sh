#!/bin/sh
# ist installed into a prefix, used through pkg-config by a plain compiler command
# (docs/install.md).
#   pkg_config.sh CXX PC_DIR DATA_DIR MAIN_CPP OUT_DIR VERSION
# PC_DIR holds the installed ist.pc, DATA_DIR the installed digits.csv.gz; VERSION is what ist.pc and
# the headers must say.
set -eu
cxx=$1 pc_dir=$2 data_dir=$3 main=$4 out=$5 version=$6
PKG_CONFIG_PATH=$pc_dir
export PKG_CONFIG_PATH

found=$(pkg-config --modversion ist)
[ "$found" = "$version" ] || { echo "pkg-config found ist $found, expected $version" >&2; exit 1; }
istdatadir=$(pkg-config --variable=istdatadir ist)
mkdir -p "$out"
set -x
"$cxx" "$main" -o "$out/consumer" $(pkg-config --cflags --libs ist) -DIST_DATA_DIR="\"$istdatadir\""
"$out/consumer" "$data_dir" "$version"
