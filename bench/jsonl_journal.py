"""The JSON-lines journals of the bench drivers (cluster_bench.py, xml_grid.py): one finished run per
line, appended as it ends so that a cut-off sitting loses only the run in progress, read back with the
line numbers a refusal names. bench/ is not a package: the drivers import this as a sibling."""
import datetime
import json
import os


def utc_now():
    """The stamp of a journal row: UTC, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_rows(path, not_json):
    """(line number, row) for every non-blank line of `path` (nothing if it does not exist yet);
    a line that is not JSON raises not_json(line number), the caller's own error."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise not_json(number)
            yield number, row


def append_row(path, row):
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
