#!/bin/bash
# Writes one malformed graph file per kind of error the graph loaders report (edge lists and
# scipy CSR .npz) into a fresh temporary folder, and has gist-train load each through
# --graph-cache: what docs/gist.md quotes. Needs gist-train on PATH; python3 writes the .npz.
set -u
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
printf '# a comment line\n0 1\n1 2\n2 2\n' > selfloop.edgelist
printf '0 1\n1 0\n' > dup.edgelist
printf '0 1\nx 2\n' > bad.edgelist
printf '0 1\n1 5000\n' > range.edgelist
/usr/bin/python3 - <<'PY'
import struct, zipfile

def npy(descr, fmt, values):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }" % (descr, len(values))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack("<%d%s" % (len(values), fmt), *values)

def npz(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data)

npz("asym.npz", {"indptr": npy("<i8", "q", [0, 1, 1]), "indices": npy("<i8", "q", [1])})
npz("indptr.npz", {"indptr": npy("<i8", "q", [0, 2, 1]), "indices": npy("<i8", "q", [1, 0])})
npz("floats.npz", {"indptr": npy("<i8", "q", [0, 1, 2]), "indices": npy("<f4", "f", [1.0, 0.0])})
PY
for f in selfloop.edgelist dup.edgelist bad.edgelist range.edgelist asym.npz indptr.npz floats.npz; do
    gist-train --quiet --methods gist --graph-cache "$f" 2>&1
done
