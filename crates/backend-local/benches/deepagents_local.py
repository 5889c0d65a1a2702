"""Reference measurement: deepagents' FilesystemBackend on the same tree.

Run by `cargo xtask bench local` (through benches/local.rs) with a Python that
has `deepagents` installed. Arguments: ROOT LITERAL ITERATIONS. Prints one JSON
object on stdout: for `grep` (literal; deepagents' grep has no regex mode) and
`glob` (`**/*.rs`), the median seconds, the number of results, and whether
deepagents cut the operation short (its glob stops after a 5 s budget).
"""

import json
import shutil
import statistics
import sys
import time

from deepagents.backends.filesystem import FilesystemBackend


def measure(fn, iterations):
    samples, result = [], None
    for _ in range(iterations):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def main():
    root, literal, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
    backend = FilesystemBackend(root_dir=root, virtual_mode=True)
    out = {"grep_engine": "ripgrep" if shutil.which("rg") else "python"}

    seconds, result = measure(lambda: backend.grep(literal, "/"), iterations)
    out["grep"] = {
        "seconds": seconds,
        "count": len(result.matches or []),
        "truncated": bool(result.truncated),
        "error": result.error,
    }

    seconds, result = measure(lambda: backend.glob("**/*.rs", "/"), iterations)
    out["glob"] = {
        "seconds": seconds,
        "count": len(result.matches or []),
        "truncated": bool(result.truncated),
        "error": result.error,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
