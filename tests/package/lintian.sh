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
ACCEPTED=""
lintian --fail-on error,warning --suppress-tags "$ACCEPTED" "$dir"/*.deb
echo "package.lintian: $(ls "$dir"/*.deb | wc -l) packages lintian-clean (accepted: ${ACCEPTED:-none})"
