"""Reference measurement: the same workload through deepagents' StateBackend.

Run by `cargo xtask bench state` (through benches/state.rs) with a Python that
has `deepagents` installed. Prints one JSON object of median seconds per
operation on stdout.

StateBackend normally reads and writes the LangGraph `files` channel. Outside
a graph, a subclass keeps the channel's value in a dict and applies each
update with deepagents' own channel reducer (`_file_data_reducer`), as the
channel does when a later read in the same step asks for fresh values.
"""

import json
import statistics
import sys
import time

from deepagents.backends.state import StateBackend
from deepagents.backends.utils import create_file_data
from deepagents.middleware.filesystem import _file_data_reducer


class DictStateBackend(StateBackend):
    def __init__(self, files):
        super().__init__()
        self.files = files

    def _read_files(self):
        return self.files

    def _send_files_update(self, update):
        self.files = _file_data_reducer(self.files, update)


def median_seconds(fn, iterations):
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def workload_path(d, f):
    ext = "rs" if f % 2 == 0 else "py"
    return f"/ws/g{d // 200}/d{d:03}/f{f:03}.{ext}"


def workload_content(d, f):
    # Must produce the same bytes as `content` in benches/state.rs.
    lines = [f"// file {d}-{f}\n"]
    for i in range(40):
        if i == 20 and (d * 100 + f) % 10 == 0:
            lines.append("    // TODO: fix this before release\n")
        lines.append(f"line {i}: the quick brown fox jumps over the lazy dog {d} {f}\n")
    return "".join(lines)


def main():
    spec = json.load(sys.stdin)
    files = {}
    for d in range(spec["dirs"]):
        for f in range(spec["files_per_dir"]):
            files[workload_path(d, f)] = create_file_data(workload_content(d, f))
    backend = DictStateBackend(files)
    it = spec["iterations"]

    def check(result):
        if getattr(result, "error", None):
            raise SystemExit(f"deepagents reported an error: {result.error}")
        return result

    out = {}
    out["ls"] = median_seconds(lambda: check(backend.ls(spec["ls_dir"])), it["ls"])
    glob_count = len(check(backend.glob(spec["glob_pattern"], "/")).matches)
    out["glob"] = median_seconds(lambda: check(backend.glob(spec["glob_pattern"], "/")), it["glob"])
    grep_count = len(check(backend.grep(spec["grep_pattern"], spec["grep_dir"])).matches)
    out["grep"] = median_seconds(lambda: check(backend.grep(spec["grep_pattern"], spec["grep_dir"])), it["grep"])
    out["read"] = median_seconds(lambda: check(backend.read(spec["read_path"], 0, 2000)), it["small"])
    out["write"] = median_seconds(lambda: check(backend.write(spec["write_path"], spec["write_content"])), it["small"])
    counter = [0]

    def edit_once():
        old = f"marker-{counter[0]}"
        counter[0] += 1
        check(backend.edit(spec["edit_path"], old, f"marker-{counter[0]}"))

    backend.write(spec["edit_path"], spec["write_content"] + "marker-0\n")
    out["edit"] = median_seconds(edit_once, it["small"])
    out["glob_count"] = glob_count
    out["grep_count"] = grep_count
    print(json.dumps(out))


if __name__ == "__main__":
    main()
