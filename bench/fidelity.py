"""Fidelity: do real test suites that nobody here wrote behave the same under ``pytest --interlace``?

Downloads the source distributions of a few pure-Python libraries (cached under ``bench/.cache``,
which git ignores), runs each one's own test suite twice -- plainly, then with ``--interlace`` (a few
executions per test, every test under the controlled scheduler) -- and prints a table: tests, passed
plainly, passed instrumented, and every test whose outcome differs, with the first line of its
failure. Each test has a time limit (``--timeout``, pytest-timeout) in both runs.

A test that passes plainly and fails instrumented is either a fidelity bug of interlace (the program
behaves differently because it is instrumented) or a real concurrency bug of the library that the
plain run did not hit; docs/fidelity.md says which, for each.

This is a bench script, not a CI test: it needs network access the first time, and minutes.

Usage: python bench/fidelity.py [--executions 3] [--timeout 60] [--only NAME] [--races error|warn|off]
       [--hang-guard SECONDS|none] [--json FILE] [-k EXPR]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"

#: distribution -> (the directories of its sdist that hold its tests, relative import roots)
SUITES: dict[str, tuple[list[str], list[str]]] = {
    "more-itertools": (["tests"], ["."]),
    "toolz": (["toolz/tests"], ["."]),
    "cachetools": (["tests"], ["src"]),
    "boltons": (["tests"], ["."]),
    "readerwriterlock": (["tests"], ["."]),
    # (not tests/test_virtualenv.py: it needs virtualenv, and tests filelock's use by it)
    "filelock": (["tests/test_filelock.py", "tests/test_error.py", "tests/test_async_filelock.py"], ["src"]),
    # actors on threads (futures, inboxes, a registry); its tests import ``tests.types``
    "pykka": (["tests"], ["src", "."]),
    # a queue with a threading and an asyncio side (not tests/test_benchmarks.py: it needs pytest-codspeed)
    "janus": (["tests/test_async.py", "tests/test_mixed.py", "tests/test_sync.py"], ["."]),
    # thread, reader-writer and inter-process locks, tried by many forked processes (not
    # tests/test_eventlet.py: it needs eventlet)
    "fasteners": ([f"tests/test_{name}.py" for name in ("decorators", "helpers", "lock", "process_lock",
                                                          "reader_writer_lock")], ["."]),
    # an LRU cache of coroutines' results (tasks shared by concurrent callers, cancelled, timed out)
    "async-lru": (["tests"], ["."]),
    # retrying: sleeps between attempts, in threads and coroutines (not tests/test_tornado.py: it
    # needs tornado)
    "tenacity": ([f"tests/test_{name}.py" for name in ("after", "asyncio", "issue_478", "tenacity", "utils")],
                 ["."]),
    # event emitters: plain, asyncio (futures, coroutine handlers) and on a thread pool (not the trio
    # and twisted ones: they need trio and twisted)
    "pyee": ([f"tests/test_{name}.py" for name in ("asyncio", "cls", "executor", "sync", "uplift")], ["."]),
    # signals: weakly referenced receivers, sync and async sending, a contextvar-scoped connection
    "blinker": (["tests"], ["src"]),
    # thread pools with timeouts and cancellation, a decorator running a function in a new thread
    # (not the process-pool tests: forking pools of processes)
    "pebble": ([f"test/test_{name}.py" for name in ("thread_pool", "concurrent_thread", "asynchronous_thread")],
               ["."]),
    # a leaky-bucket rate limiter for asyncio: waiters woken by timers as capacity drips back
    "aiolimiter": (["tests"], ["src"]),
    # files on a thread pool for asyncio (the loop's default executor)
    "aiofiles": (["tests"], ["src"]),
    # asyncio timeouts: deadlines moved, rescheduled, expired around awaits
    "async-timeout": (["tests"], ["."]),
    # a queue with threading and asyncio sides on aiologic's primitives (janus's successor)
    "culsans": (["tests"], ["src"]),
    # persistent queues on files and SQLite, shared by threads; an asyncio side (not
    # test_mysqlqueue.py: it needs a MySQL server)
    "persist-queue": ([f"persistqueue/tests/test_{name}.py" for name in (
        "async_edge_cases", "async_queue", "pdict", "priorityqueue", "queue", "sqlackqueue", "sqlqueue")], ["."]),
    # sync_to_async / async_to_sync: threads and event loops bridged through thread pools kept at class
    # level (not test_benchmark_local.py: it needs pytest-benchmark)
    "asgiref": ([f"tests/test_{name}.py" for name in (
        "compatibility", "garbage_collection", "local", "server", "sync", "sync_contextvars",
        "sync_executor_context_scenario", "sync_thread_sensitive_context", "testing", "timeout", "wsgi")], ["."]),
}
#: the pytest plugins a suite needs beyond interlace's test extras (it is skipped, saying how to install
#: them, when one is missing), and the suites whose async tests run on pytest-asyncio (for the others
#: it is switched off: its configuration warning is an error under toolz's filterwarnings)
NEEDS: dict[str, list[str]] = {"filelock": ["pytest_mock"], "pykka": ["pytest_mock"],
                               "fasteners": ["diskcache", "more_itertools"], "aiolimiter": ["dunamai", "aiolimiter"],
                               "culsans": ["aiologic"],
                               "persist-queue": ["msgpack", "cbor2", "aiofiles", "aiosqlite"]}
ASYNCIO = {"filelock", "janus", "async-lru", "tenacity", "pyee", "blinker", "aiolimiter", "aiofiles", "async-timeout",
           "culsans", "persist-queue", "asgiref"}
#: the version to download where the newest one's sdist does not build its metadata here (filelock
#: 3.20's needs hatch plugins from the network)
PINS: dict[str, str] = {"filelock": "3.16.1"}
#: ini options a suite's own configuration does not set and its tests assume
INI: dict[str, list[str]] = {"filelock": ["asyncio_default_fixture_loop_scope=session"],
                             "janus": ["addopts="],  # (its addopts ask for pytest-cov)
                             "async-lru": ["addopts=", "asyncio_default_fixture_loop_scope=function"],
                             "tenacity": ["asyncio_default_fixture_loop_scope=function"],
                             "asgiref": ["addopts=", "asyncio_default_fixture_loop_scope=function"],
                             "pyee": ["asyncio_default_fixture_loop_scope=function"],
                             "blinker": ["asyncio_default_fixture_loop_scope=function"],
                             "aiolimiter": ["addopts="],  # (pytest-cov)
                             "async-timeout": ["addopts=", "asyncio_default_fixture_loop_scope=function"],
                             "culsans": ["asyncio_default_fixture_loop_scope=function"],
                             "persist-queue": ["asyncio_default_fixture_loop_scope=function"]}


def fetch(dist: str) -> Path:
    """The unpacked sdist of ``dist`` (downloaded once with pip, then cached)."""
    sdists = CACHE / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    norm = dist.replace("-", "_").lower()
    def mine() -> list[Path]:
        return [p for p in sdists.iterdir() if p.name.replace("-", "_").lower().startswith(norm + "_")
                and p.name[len(norm) + 1:len(norm) + 2].isdigit()]

    found = mine()
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "-q", "-d", str(sdists), f"{dist}=={PINS[dist]}" if dist in PINS else dist], check=True)
        found = mine()
    archive = sorted(found)[-1]
    dest = CACHE / "src" / archive.name.removesuffix(".tar.gz").removesuffix(".zip")
    if not dest.exists():
        tmp = dest.with_name(dest.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)
        else:
            with tarfile.open(archive) as t:
                t.extractall(tmp, filter="data") if sys.version_info >= (3, 12) else t.extractall(tmp)
        (inner,) = list(tmp.iterdir())
        inner.rename(dest)
        shutil.rmtree(tmp)
    return dest


def run_suite(root: Path, dist: str, instrumented: bool, args: argparse.Namespace) -> dict[str, tuple[str, str]]:
    """``{test id: (outcome, first line of the failure)}`` of one run of the suite."""
    tests, roots = SUITES[dist]
    out = CACHE / "results"
    out.mkdir(parents=True, exist_ok=True)
    xml = out / f"{dist}-{'interlace' if instrumented else 'plain'}.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           *([] if dist in ASYNCIO else ["-p", "no:asyncio"]),
           *[arg for option in INI.get(dist, []) for arg in ("-o", option)],
           "--timeout", str(args.timeout), f"--junitxml={xml}", "-o", "junit_family=xunit2", "--rootdir", str(root),
           *tests]
    if args.k:
        cmd += ["-k", args.k]
    if instrumented:
        cmd += ["--interlace", "--interlace-executions", str(args.executions)]
        if args.races:
            cmd += ["--interlace-races", args.races]
        if args.hang_guard:
            cmd += ["--interlace-hang-guard", args.hang_guard]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root / r) for r in roots] + [env.get("PYTHONPATH", "")])
    env["INTERLACE_CACHE_DIR"] = str(CACHE / "interlace")
    started = time.perf_counter()
    log = out / f"{dist}-{'interlace' if instrumented else 'plain'}.log"
    with open(log, "w") as f:
        subprocess.run(cmd, cwd=root, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=args.suite_timeout)
    elapsed = time.perf_counter() - started
    results: dict[str, tuple[str, str]] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome, reason = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                reason = (child.get("message") or "").strip().splitlines()[0:1]
                reason = reason[0] if reason else child.tag
                break
            if child.tag == "skipped":
                outcome = "skipped"
                break
        if name in results and results[name][0] != "passed":
            continue  # a failing teardown reported as a second case: keep the failure
        results[name] = (outcome, reason[:200])
    results["<elapsed>"] = ("", f"{elapsed:.1f}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=3)
    parser.add_argument("--timeout", type=int, default=60, help="seconds per test (pytest-timeout)")
    parser.add_argument("--suite-timeout", type=int, default=3600, help="seconds per suite run")
    parser.add_argument("--only", action="append", choices=sorted(SUITES))
    parser.add_argument("--races", choices=("error", "warn", "off"), default=None,
                        help="--interlace-races (default: the plugin's default, error)")
    parser.add_argument("--hang-guard", default=None, metavar="SECONDS",
                        help="--interlace-hang-guard (default: the plugin's, 1; 'none': every timeout may end early)")
    parser.add_argument("-k", default=None, help="pytest -k expression (both runs)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows and differences here")
    args = parser.parse_args()

    rows, report = [], {}
    for dist in args.only or SUITES:
        missing = [m for m in NEEDS.get(dist, []) if importlib.util.find_spec(m) is None]
        if missing:
            names = " ".join(m.replace("_", "-") for m in missing)
            print(f"fidelity: skipping {dist}: its tests need {names} (pip install {names})", file=sys.stderr)
            continue
        root = fetch(dist)
        plain = run_suite(root, dist, False, args)
        inst = run_suite(root, dist, True, args)
        tp, ti = plain.pop("<elapsed>")[1], inst.pop("<elapsed>")[1]
        names = sorted(set(plain) | set(inst))
        passed_plain = sum(1 for n in names if plain.get(n, ("",))[0] == "passed")
        passed_inst = sum(1 for n in names if inst.get(n, ("",))[0] == "passed")
        diffs = [(n, plain.get(n, ("missing", ""))[0], *inst.get(n, ("missing", ""))) for n in names
                 if plain.get(n, ("missing",))[0] != inst.get(n, ("missing",))[0]]
        rows.append((root.name, len(names), passed_plain, passed_inst, len(diffs), tp, ti))
        report[root.name] = [{"test": n, "plain": p, "interlace": i, "reason": r} for n, p, i, r in diffs]

    print(f"Python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} CPUs), "
          f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"--interlace-executions {args.executions}, --timeout {args.timeout}"
          + (f", --interlace-hang-guard {args.hang_guard}" if args.hang_guard else ""))
    print()
    print("| suite | tests | passed plainly | passed with --interlace | differences | time plain | time interlace |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, n, pp, pi, nd, tp, ti in rows:
        print(f"| {name} | {n} | {pp} | {pi} | {nd} | {tp}s | {ti}s |")
    for name, diffs in report.items():
        if diffs:
            print(f"\n{name}:")
            for d in diffs:
                print(f"  {d['test']}: {d['plain']} -> {d['interlace']}: {d['reason']}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "differences": report}, indent=1))


if __name__ == "__main__":
    main()
