"""What the cluster scripts read from ist-train's output (bench/cluster_*.py, tests/cluster/)."""
import re


def weights_checksum(output):
    """The hex checksum of the final weights ist-train prints last, or None when it printed none."""
    m = re.search(r"weights checksum ([0-9a-f]+)", output)
    return m.group(1) if m else None
