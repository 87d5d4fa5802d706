"""The HTML timeline: structure and escaping, and the rendered page in headless Chromium."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys

import programs_shrink as programs
import pytest

import interlace
from interlace.report.html import hb_edges, lock_intervals, render_html
from interlace.runtime.state import Event

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COUNTER = os.path.join(ROOT, "examples", "counter.py")
CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.timeout(300)


def chromium(url_or_file: str, tmp_path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--window-size=1400,900", *extra, f"file://{url_or_file}"]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                    reason=f"{CHROMIUM} is not installed (apt-get install chromium)")


def deadlock_result():
    result = interlace.explore(programs.abba_deadlock, executions=300, seed=0, races="off")
    assert result.failure.kind == "deadlock"
    return result


def race_result():
    result = interlace.explore(programs.lost_update_attribute, executions=300, seed=0)
    assert result.failure.kind == "exception" and result.races
    return result


def render_in_chromium(result, tmp_path, name, command):
    page = tmp_path / f"{name}.html"
    page.write_text(render_html(result, replay_command=command), encoding="utf-8")
    dom = chromium(str(page), tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = tmp_path / f"{name}.png"
    pic = chromium(str(page), tmp_path, f"--screenshot={shot}")
    assert pic.returncode == 0, pic.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 10_000
    return dom.stdout


@needs_chromium
def test_deadlock_page_in_chromium(tmp_path):
    result = deadlock_result()
    dom = render_in_chromium(result, tmp_path, "deadlock", "interlace replay .interlace/schedules/abba.json")
    lanes = re.findall(r'<th class="lane-head" data-tid="\d+">([^<]*)</th>', dom)
    assert lanes == ["MainThread", "one", "two"]
    highlighted = re.findall(r'<div class="ev k-(\w+) hl"[^>]*>.*?</span> ([^<]*)</div>', dom)
    acquires = [text for kind, text in highlighted if kind == "acquire"]
    assert len(acquires) == 2
    assert all(text.startswith("acquire Lock@programs_shrink.py:") for text in acquires)
    assert dom.count('class="failcell"') == 3
    assert "DEADLOCK: waits for Lock@programs_shrink.py:" in dom
    assert '<pre class="replay" id="replay">interlace replay .interlace/schedules/abba.json</pre>' in dom
    # the page's script ran: happens-before arrows were drawn and counted
    arrows = int(re.search(r'<body data-arrows="(\d+)"', dom).group(1))
    assert arrows >= 2 and dom.count('class="hb hb-start"') >= 2
    assert "&#9889; preempted" in dom or "\u26a1 preempted" in dom
    assert dom.count('class="bar"') >= 2  # lock hold bars


@needs_chromium
def test_race_page_in_chromium(tmp_path):
    result = race_result()
    dom = render_in_chromium(result, tmp_path, "race", "interlace replay 'race schedule.json'")
    lanes = re.findall(r'<th class="lane-head" data-tid="\d+">([^<]*)</th>', dom)
    assert lanes == ["MainThread", "Thread-1 (work)", "Thread-2 (work)"]
    pattern = r'<div class="ev k-\w+ hl"[^>]*>.*?</span> ([^<]*)</div>'
    highlighted = [html.unescape(t) for t in re.findall(pattern, dom)]
    accesses = [t for t in highlighted if "Box.value" in t]
    # the racing read/write pairs of the two workers, then the main thread's failing read
    assert sorted(t.split(" -> ")[0].split(" <- ")[0] for t in accesses[:-1]) == (
        ["read Box.value"] * 2 + ["write Box.value"] * 2), highlighted
    assert accesses[-1] == "read Box.value -> 3"
    assert "interlace replay 'race schedule.json'" in html.unescape(dom)
    assert "AssertionError" in dom and "assert box.value == 6" in dom
    assert "<h3>Race report</h3>" in dom and "DATA RACE (lost update) on Box.value" in dom
    assert int(re.search(r'<body data-arrows="(\d+)"', dom).group(1)) >= 2
    assert dom.count("~~") == 0 and ("&#9889; preempted" in dom or "\u26a1 preempted" in dom)


def test_page_is_self_contained_and_escaped():
    result = race_result()
    result.failure.message = "<script>alert('x')</script> & more"
    page = render_html(result, replay_command="interlace replay '<b>.json'")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert "&lt;b&gt;.json" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page
    assert page.count("<script") == 2  # the data and the page's own script


def test_large_traces_stay_small():
    trace = [Event(i, 0, "read", "x", ("/tmp/p.py", 1, 0), "1") for i in range(1, 50_001)]
    trace.append(Event(50_001, 1, "write", "x", ("/tmp/p.py", 2, 0), "2"))

    class R:
        failure = None
        threads = ["MainThread", "w"]
        strategy, seed, model = "pct", 1, "free-threaded"

    R.trace = trace
    page = render_html(R())
    assert len(page) < 400_000
    # the report analyses the last WINDOW steps of a long trace and says how many there were
    assert "the last 5000 of 50001 steps" in page and "&hellip; 4799 more steps" in page


def test_lock_intervals_and_happens_before_edges():
    s = ("/tmp/p.py", 1, 0)
    events = [Event(1, 0, "start", "w", s), Event(2, 1, "acquire", "L", s), Event(3, 1, "write", "x", s),
              Event(4, 1, "release", "L", s), Event(5, 0, "acquire", "L", s), Event(6, 0, "join", "w", s),
              Event(7, 0, "read", "x", s), Event(8, 0, "acquire", "M", s)]
    assert lock_intervals(events) == [(1, "L", 2, 4), (0, "L", 5, None), (0, "M", 8, None)]
    assert hb_edges(events, {0: "MainThread", 1: "w"}) == [(1, 2, "start"), (4, 5, "lock"), (4, 6, "join")]


def test_cli_report_and_explore_html(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), NO_COLOR="1")
    run = lambda *a: subprocess.run([sys.executable, "-m", "interlace", *a], capture_output=True, text=True,
                                    cwd=tmp_path, env=env, timeout=120)
    out = run("explore", COUNTER, "--seed", "3", "-n", "50", "-o", "s.json", "--html", "explore.html")
    assert out.returncode == 1, out.stderr
    assert "HTML report: explore.html" in out.stdout
    page = (tmp_path / "explore.html").read_text()
    assert "interlace replay s.json" in page and "lost update" in page
    rep = run("report", "s.json", "--html", "out/report.html")
    assert rep.returncode == 0, rep.stderr
    assert "HTML report: out/report.html" in rep.stdout
    assert "1 preemption," in rep.stdout
    page = (tmp_path / "out" / "report.html").read_text()
    assert "interlace replay s.json" in page and "1 preemption(s)" in page
    replayed = run("replay", "s.json", "--html", "replay.html")
    assert replayed.returncode == 1 and "interlace: HTML report: replay.html" in replayed.stderr
    assert "interlace replay s.json" in (tmp_path / "replay.html").read_text()
    bad = run("report", "missing.json", "--html", "x.html")
    assert bad.returncode == 2 and "no schedule file at 'missing.json'" in bad.stderr


def test_queue_hand_off_is_an_arrow_from_the_put_to_the_step_after_the_get():
    import queue
    import threading

    box = {"v": 0}

    def body():
        q = queue.Queue()
        box["v"] = 0

        def producer():
            box["v"] = 1
            q.put("item")

        def consumer():
            q.get()
            box["v"] += 1

        ts = [threading.Thread(target=producer, name="producer"), threading.Thread(target=consumer, name="consumer")]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert box["v"] == 1, "the hand-off ordered the two updates"

    result = interlace.explore(body, executions=20, seed=1, races="off")
    assert result.failure is not None and result.failure.kind == "exception"
    by_index = {e.index: e for e in result.trace}
    names = dict(enumerate(result.threads))
    [(src, dst, what)] = result.handoffs
    assert what == "queue"
    import linecache

    def line(e):
        return linecache.getline(e.site[0], e.site[1]).strip()

    assert (names[by_index[src].tid], line(by_index[src])) == ("producer", 'q.put("item")')
    assert (names[by_index[dst].tid], line(by_index[dst])) == ("consumer", 'box["v"] += 1')
    page = render_html(result)
    assert f'[{src}, {dst}, "handoff hb-queue"]' in page
    again = interlace.replay(body, result.schedule)
    assert again.handoffs == result.handoffs
    from interlace.drivers.shrink import record  # what `interlace report FILE --html` runs

    assert record(body, result.schedule).handoffs == result.handoffs
