"""The seed article's program at real size, in one run: plain Python vs ``interlace run`` (a random
schedule, recorded, races detected), ``interlace replay`` of that recording and ``interlace run
--detect-only``, each as a ratio to plain Python measured in the same run, with the peak RSS of each
(the largest process of its tree, from ``os.wait4``), with the native accelerator and without it
(``INTERLACE_PURE=1``). Then ``interlace explore`` (the default strategy) of the article at 40 threads x
10,000 increments with 1 and 4 executions, and of a correct program of ordinary length (2 threads x
20,000 locked increments) with 3, each as a ratio to plain Python of the same program. Then ``interlace
run`` with and without the race detector of 100 threads reading a linked list of 10,000 cells (the shape
of more-itertools' ``concurrent_tee`` test: many threads reading many objects, the detector's costliest).

Usage: python bench/bench_real_size.py [--threads N] [--increments M] [--quick] [--no-pure] [--seed S]
                                       [--no-explore] [--no-readers] [--only-readers]
(default 400 threads x 100,000 increments, the article's size; ``--quick``: 40 x 10,000)
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ARTICLE = os.path.join(HERE, "..", "tests", "speedups_article.py")
LOCKED = """
import threading

counter = 0
lock = threading.Lock()


def work(m):
    global counter
    for _ in range(m):
        with lock:
            counter += 1


threads = [threading.Thread(target=work, args=(20_000,)) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert counter == 40_000, counter
"""


def measure(command: list[str], env: dict, cwd: str, ok: tuple[int, ...] = (0,)) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the tree, peak RSS in MB) of one command run to its end; an
    exit status not in ``ok`` stops the benchmark (a failed run would look fast)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(command)}: exit status {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=400)
    parser.add_argument("--increments", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="40 threads x 10,000 increments")
    parser.add_argument("--no-pure", action="store_true", help="skip the pure-Python rows")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-explore", action="store_true", help="skip the explore rows")
    parser.add_argument("--no-readers", action="store_true",
                        help="skip the many-readers rows (100 threads x 10,000 cells; --quick: 50 x 2,000)")
    parser.add_argument("--only-readers", action="store_true", help="only the many-readers rows")
    options = parser.parse_args()
    n, m = (40, 10_000) if options.quick else (options.threads, options.increments)
    py = sys.executable
    from interlace.runtime.fastpath import native

    base = {k: v for k, v in os.environ.items() if k != "INTERLACE_PURE"}
    paths = [("native", base)] if native() is not None else []
    if not options.no_pure or not paths:
        paths.append(("pure", dict(base, INTERLACE_PURE="1")))
    print(f"article: {n} threads x {m:,} increments; Python {platform.python_version()} on "
          f"{platform.machine()}, {os.cpu_count()} CPUs; native accelerator "
          f"{'built' if native() is not None else 'NOT built'}")
    with tempfile.TemporaryDirectory() as tmp:
        if options.only_readers:
            reader_rows(py, base, tmp, options.seed, *((2_000, 50) if options.quick else (10_000, 100)))
            return
        plain_wall, plain_cpu, plain_rss = measure([py, ARTICLE, str(n), str(m)], base, tmp)
        print(f"{'mode':<26}{'wall s':>8}{'ratio':>8}{'cpu s':>8}{'cpu ratio':>10}{'peak RSS':>10}")
        print(f"{'plain python':<26}{plain_wall:>8.2f}{1:>7.1f}x{plain_cpu:>8.2f}{1:>9.1f}x{plain_rss:>7} MB")
        for label, env in paths:
            record = os.path.join(tmp, f"run-{label}.ilr")
            modes = [
                ("run", ["run", "-q", "--record", record, "--keep", "all", "--force", "--seed", str(options.seed),
                         "--hash-seed", "0", ARTICLE, str(n), str(m)]),
                ("replay", ["replay", "-q", record]),
                ("run --detect-only", ["run", "--detect-only", ARTICLE, str(n), str(m)]),
            ]
            for mode, args in modes:
                # the article's race makes run and replay exit 1 (a failing run), like --detect-only
                wall, cpu, rss = measure([py, "-m", "interlace", *args], env, tmp, ok=(0, 1))
                print(f"{mode + ' (' + label + ')':<26}{wall:>8.2f}{wall / plain_wall:>7.1f}x{cpu:>8.2f}"
                      f"{cpu / max(plain_cpu, 1e-9):>9.1f}x{rss:>7} MB")
            size = os.path.getsize(record) if os.path.exists(record) else 0
            print(f"{'  recording (' + label + ')':<26}{size / 1024:>8.0f} KB")
        if not options.no_explore:
            explore_rows(py, base, tmp, options.seed)
        if not options.no_readers:
            reader_rows(py, base, tmp, options.seed, *((2_000, 50) if options.quick else (10_000, 100)))


#: many threads reading many objects (the shape of more-itertools' ``concurrent_tee`` test): a linked
#: list of ``[value, next]`` cells, extended under one lock by whichever reader reaches its end first
READERS = """
import sys
import threading

items, readers = int(sys.argv[1]), int(sys.argv[2])
head = [None, None]
grow = threading.Lock()
source = iter(range(items))
totals = []


def read(cell):
    total = 0
    while True:
        if cell[1] is None:
            with grow:
                if cell[1] is None:
                    value = next(source, None)
                    if value is None:
                        break
                    cell[0], cell[1] = value, [None, None]
        total += cell[0]
        cell = cell[1]
    totals.append(total)


threads = [threading.Thread(target=read, args=(head,)) for _ in range(readers)]
for t in threads:
    t.start()
del head
for t in threads:
    t.join()
assert totals == [items * (items - 1) // 2] * readers, totals
"""


def reader_rows(py: str, env: dict, tmp: str, seed: int, items: int, readers: int) -> None:
    """``interlace run`` with and without the race detector on many threads reading many objects."""
    program = os.path.join(tmp, "readers.py")
    with open(program, "w") as f:
        f.write(READERS)
    argv = [program, str(items), str(readers)]
    plain_wall, plain_cpu, plain_rss = measure([py, *argv], env, tmp)
    name = f"{readers} readers x {items:,} cells"
    print(f"{'plain ' + name:<26}{plain_wall:>8.2f}{1:>7.1f}x{plain_cpu:>8.2f}{1:>9.1f}x{plain_rss:>7} MB")
    for mode, extra in (("run --races off", ["--races", "off"]), ("run", [])):
        wall, cpu, rss = measure([py, "-m", "interlace", "run", "-q", "--seed", str(seed), *extra, *argv], env, tmp,
                                 ok=(0, 1))
        print(f"{mode:<26}{wall:>8.2f}{wall / plain_wall:>7.1f}x{cpu:>8.2f}"
              f"{cpu / max(plain_cpu, 1e-9):>9.1f}x{rss:>7} MB")


def explore_rows(py: str, env: dict, tmp: str, seed: int) -> None:
    """``interlace explore`` (default strategy, native path) at the sizes issue 11 names."""
    locked = os.path.join(tmp, "locked_counter.py")
    with open(locked, "w") as f:
        f.write(LOCKED)
    programs = [("article 40 x 10,000", [ARTICLE, "40", "10000"], (1,), (1, 4)),
                ("locked 2 x 20,000", [locked], (0,), (3,))]
    for name, argv, ok, budgets in programs:
        plain_wall, plain_cpu, plain_rss = measure([py, *argv], env, tmp)
        print(f"{'plain ' + name:<26}{plain_wall:>8.2f}{1:>7.1f}x{plain_cpu:>8.2f}{1:>9.1f}x{plain_rss:>7} MB")
        for n in budgets:
            # the article's race fails the exploration (exit 1); the locked counter passes (exit 0)
            wall, cpu, rss = measure([py, "-m", "interlace", "explore", "-n", str(n), "--seed", str(seed),
                                      *argv], env, tmp, ok=ok)
            print(f"{'explore -n ' + str(n):<26}{wall:>8.2f}{wall / plain_wall:>7.1f}x{cpu:>8.2f}"
                  f"{cpu / max(plain_cpu, 1e-9):>9.1f}x{rss:>7} MB")


if __name__ == "__main__":
    main()
