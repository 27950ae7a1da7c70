"""What the cluster scripts read from ist-train's output (bench/cluster_*.py, tests/cluster/)."""
import re


def weights_checksum(output, what, error=RuntimeError):
    """The hex checksum of the final weights ist-train prints last; `error` naming `what` when absent."""
    m = re.search(r"weights checksum ([0-9a-f]+)", output)
    if not m:
        raise error(f"{what} printed no weights checksum:\n{output}")
    return m.group(1)
