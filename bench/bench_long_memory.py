"""Peak RSS of one long execution under ``pytest --interlace``: readerwriterlock's ``test_multi_thread``
(threads x 5 kinds taking a reader-writer lock in a loop that polls ``time.time()`` for 30 s, 6 lock
types in turn), with this tree and with a baseline revision of interlace, in one run.

That test made 7.2 million steps in one execution at its real size (50 x 5 threads) and peaked at
2.8 GB: the run that re-executes a race finding for its report kept every trace event. Here it runs at
smaller sizes (``--sizes``: threads per kind) with ``--interlace-executions 1``; each row gives the
steps of the execution and the peak RSS (from ``os.wait4``) of the baseline and of this tree.

Needs readerwriterlock's sdist in bench/.cache (``python bench/fidelity.py --only readerwriterlock``
downloads it). The baseline is ``git archive REV src`` of this repository (default: the commit before
the trace tail, 59c2c8b).

Usage: python bench/bench_long_memory.py [--sizes 5,10,20] [--baseline REV]
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_real_size import measure  # noqa: E402

BASELINE = "59c2c8b"


def tree_of(rev: str, into: str) -> str:
    """``src`` of ``rev``, with this tree's native modules when their C sources are the same."""
    os.makedirs(into)
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    src = os.path.join(into, "src")
    same = all(open(os.path.join(src, "interlace", c), "rb").read() ==
               open(os.path.join(ROOT, "src", "interlace", c), "rb").read()
               for c in ("_speedups.c", "_lifetimes.c"))
    if same:
        for built in glob.glob(os.path.join(ROOT, "src", "interlace", "*.so")):
            shutil.copy(built, os.path.join(src, "interlace"))
    return src


def sized_test(rwlock_src: str, into: str, threads: int) -> str:
    """readerwriterlock's test file with ``threads`` threads per kind instead of 50."""
    text = open(os.path.join(rwlock_src, "tests", "test_rwlock.py")).read()
    text, n = re.subn(r"for i in range\(50\):", f"for i in range({threads}):", text)
    assert n == 1, "readerwriterlock's test changed: no 'for i in range(50):'"
    path = os.path.join(into, "test_rwlock.py")
    with open(path, "w") as f:
        f.write(text)
    return path


def run(src: str, rwlock_src: str, cwd: str) -> tuple[float, float, int, int | None]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, rwlock_src]))
    env.pop("INTERLACE_PURE", None)
    if not glob.glob(os.path.join(src, "interlace", "_speedups*.so")):
        env["INTERLACE_PURE"] = "1"
    log = os.path.join(cwd, "out.txt")
    command = ["sh", "-c", f"{sys.executable} -m pytest -p no:asyncio -p no:cacheprovider -q test_rwlock.py "
                           f"-k multi_thread --interlace --interlace-executions 1 > {log} 2>&1"]
    wall, cpu, rss = measure(command, env, cwd, ok=(0, 1))
    steps = re.search(r"of ([0-9]+) steps", open(log).read())
    return wall, cpu, rss, int(steps.group(1)) if steps else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5,10,20", help="threads per kind, comma-separated (the test: 50)")
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    options = parser.parse_args()
    found = sorted(glob.glob(os.path.join(HERE, ".cache", "src", "readerwriterlock-*")))
    if not found:
        raise SystemExit("bench_long_memory: no readerwriterlock sdist in bench/.cache; run "
                         "`python bench/fidelity.py --only readerwriterlock` first")
    rwlock_src = found[-1]
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
    print(f"{'threads':>8}{'steps':>10}{'baseline MB':>13}{'this MB':>9}{'ratio':>7}{'baseline s':>12}{'this s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        baseline = tree_of(options.baseline, os.path.join(tmp, "baseline"))
        current = os.path.join(ROOT, "src")
        for size in (int(s) for s in options.sizes.split(",")):
            work = os.path.join(tmp, f"k{size}")
            os.makedirs(work)
            sized_test(rwlock_src, work, size)
            b_wall, _, b_rss, b_steps = run(baseline, rwlock_src, work)
            c_wall, _, c_rss, c_steps = run(current, rwlock_src, work)
            steps = f"{c_steps:,}" if c_steps == b_steps and c_steps else f"{b_steps}/{c_steps}"
            print(f"{size * 5:>8}{steps:>10}{b_rss:>13}{c_rss:>9}{c_rss / b_rss:>6.2f}x{b_wall:>12.1f}{c_wall:>8.1f}",
                  flush=True)
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
