#!/bin/sh
# lintian on the .deb files in DIR (package.lintian, make package). Fails on any error or warning
# except the tags below, each accepted for the reason given; skipped (exit 77) without lintian.
#   lintian.sh DIR
set -eu
dir=$1
if ! command -v lintian >/dev/null 2>&1; then
  echo "package.lintian: skipped: lintian is not installed (make deps installs it)"
  exit 77
fi
# package-contains-timestamped-gzip: /usr/share/ist/digits.csv.gz is the repository's data file byte for
#   byte (its bytes are also compiled into the headers, detail/digits_bytes.hpp, and tests/data checks
#   the two are equal); regzipping it for the package would break that identity.
# syntax-error-in-debian-changelog: changelog.gz is the project's CHANGELOG.md (Keep a Changelog), which a
#   native package keeps there; the packages are made by CPack from the CMake build, with no
#   debian/changelog kept beside it in Debian's format.
# no-manual-page: the programs of ist-tools document themselves with --help (generated from the same
#   option table that parses them) and in README.md and docs/ (/usr/share/doc/libist-dev); no man
#   pages are written yet.
ACCEPTED="package-contains-timestamped-gzip,syntax-error-in-debian-changelog,no-manual-page"
lintian --fail-on error,warning --suppress-tags "$ACCEPTED" "$dir"/*.deb
echo "package.lintian: $(ls "$dir"/*.deb | wc -l) packages lintian-clean (accepted: $ACCEPTED)"
