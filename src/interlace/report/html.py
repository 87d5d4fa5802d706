"""The HTML timeline: one self-contained file (inline CSS and JS, nothing fetched) for a failure.

Threads are lanes (columns), steps go down in execution order. The steps that matter (see
:mod:`interlace.report.analysis`) are shown; the others are folded into one row per run, which
expands on click (a fold of more than ``FOLD_DETAIL`` steps shows its first and last ones, so a trace
of 100,000 steps stays a page of a few hundred rows). Lock hold intervals are coloured bars in the
holder's lane; happens-before edges (release -> next acquire of the same lock, start -> first step
of the child, last step of a thread -> the join that waited for it, and the hand-offs of queues,
events, semaphores, barriers and futures: put -> the get that received the item, ...) are arrows
drawn by the page's script. Below the timeline: the source lines involved, the exception, deadlock and race reports,
and the command that replays the schedule. Everything taken from the program is escaped.
"""

from __future__ import annotations

import html
import json
import linecache
import os
from typing import Any

from .analysis import analyze, failure_cells, failure_site, location, operation, span
from .text import clean_traceback

FOLD_DETAIL = 200
PALETTE = ["#e6550d", "#3182bd", "#31a354", "#756bb1", "#de2d26", "#636363", "#9c9ede", "#8c6d31"]


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def lock_intervals(events: list) -> list[tuple[int, str, int, int | None]]:
    """(tid, lock label, acquire index, release index or None if still held at the end)."""
    open_: dict[tuple[int, str], list[int]] = {}
    out = []
    for e in events:
        if e.kind == "acquire":
            open_.setdefault((e.tid, e.what), []).append(e.index)
        elif e.kind == "release" and open_.get((e.tid, e.what)):
            start = open_[(e.tid, e.what)].pop()
            out.append((e.tid, e.what, start, e.index))
    for (tid, label), starts in open_.items():
        for start in starts:
            out.append((tid, label, start, None))
    return sorted(out, key=lambda t: t[2])


def hb_edges(events: list, names: dict[int, str]) -> list[tuple[int, int, str]]:
    """(from event index, to event index, kind) happens-before edges between threads."""
    by_name = {name: tid for tid, name in names.items()}
    edges = []
    for i, e in enumerate(events):
        if e.kind == "release":
            nxt = next((f for f in events[i + 1:] if f.kind == "acquire" and f.what == e.what), None)
            if nxt is not None and nxt.tid != e.tid:
                edges.append((e.index, nxt.index, "lock"))
        elif e.kind == "start" and e.what in by_name:
            child = by_name[e.what]
            first = next((f for f in events[i + 1:] if f.tid == child), None)
            if first is not None:
                edges.append((e.index, first.index, "start"))
        elif e.kind == "join" and e.what in by_name:
            child = by_name[e.what]
            last = next((f for f in reversed(events) if f.tid == child), None)
            # only a join that returned (the joiner goes on after it), to the join itself if the
            # child had already ended, else to the joiner's first step after the child's last one
            returned = any(f.tid == e.tid for f in events[i + 1:])
            if last is None or not returned:
                continue
            target = e if last.index < e.index else next(
                (f for f in events if f.tid == e.tid and f.index > last.index), None)
            if target is not None:
                edges.append((last.index, target.index, "join"))
    return edges


def handoff_edges(events: list, trace: list, handoffs: Any) -> list[tuple[int, int, str]]:
    """The hand-offs noted by the execution, moved onto steps the timeline shows: the source to the
    latest shown step of its thread at or before it, the target to the earliest at or after it."""
    tid_of = {e.index: e.tid for e in trace}
    shown_by_tid: dict[int, list[int]] = {}
    for e in events:
        shown_by_tid.setdefault(e.tid, []).append(e.index)
    out = []
    for src, dst, what in handoffs:
        before = [i for i in shown_by_tid.get(tid_of.get(src, -1), ()) if i <= src]
        after = [i for i in shown_by_tid.get(tid_of.get(dst, -1), ()) if i >= dst]
        if before and after and before[-1] < after[0]:
            out.append((before[-1], after[0], f"handoff hb-{what}"))
    return out


def render_html(result: Any, replay_command: str | None = None, title: str | None = None) -> str:
    """The whole report page for ``result`` (a :class:`interlace.drivers.result.Result`)."""
    failure = result.failure
    names = dict(enumerate(result.threads))
    a = analyze(result.trace, getattr(result, "decisions", None), failure)
    tids = sorted({e.tid for e in a.events} | set(failure_cells(failure, names)) | set(names))
    for tid in tids:
        names.setdefault(tid, f"#{tid}")
    intervals = lock_intervals(a.events)
    labels = list(dict.fromkeys(label for _, label, _, _ in intervals))
    colour = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}
    edges = hb_edges(a.events, names) + handoff_edges(a.events, result.trace, getattr(result, "handoffs", ()))
    last_index = a.events[-1].index if a.events else 0
    highlighted = set(a.important)
    # the last access of each thread involved in the failure is highlighted too
    files = {e.site[0] for e in a.events if e.site}
    cells = failure_cells(failure, names, files=files)
    for tid in cells:
        last = next((e for e in reversed(a.events) if e.tid == tid), None)
        if last is not None:
            highlighted.add(last.index)

    def held_at(tid: int, index: int) -> list[str]:
        return [label for t, label, start, end in intervals
                if t == tid and start <= index and (end is None or index <= end)]

    def lane_cells(row_tid: int, index: int, content: str) -> str:
        out = []
        for tid in tids:
            bars = "".join(f'<span class="bar" style="background:{colour[label]}" title="holds {_e(label)}">'
                           f"</span>" for label in held_at(tid, index))
            inner = content if tid == row_tid else ""
            out.append(f'<td class="lane" data-tid="{tid}"><div class="bars">{bars}</div>{inner}</td>')
        return "".join(out)

    def event_box(e: Any, extra: str = "") -> str:
        cls = f"ev k-{_e(e.kind)}" + (" hl" if e.index in highlighted else "") + extra
        src = linecache.getline(e.site[0], e.site[1]).strip() if e.site else ""
        tip = f"{location(e.site)}  {src}" if src else location(e.site)
        lock = ""
        if e.kind in ("acquire", "release") and e.what in colour:
            lock = f' style="border-color:{colour[e.what]}"'
        return (f'<div class="{cls}" id="ev{e.index}" title="{_e(tip)}"{lock}>'
                f'<span class="loc">{_e(location(e.site))}</span> {_e(operation(e))}</div>')

    rows = []
    for n, row in enumerate(a.rows):
        first, last = row.events[0], row.events[-1]
        switch = " switch" if row.switch else ""
        if not row.folded:
            rows.append(f'<tr class="step{switch}"><td class="idx">{first.index}</td>'
                        f"{lane_cells(row.tid, first.index, event_box(first))}</tr>")
        else:
            count = len(row.events)
            ids = " ".join(str(e.index) for e in row.events)
            summary = (f'<div class="ev fold" id="fold{n}" data-fold="{n}" data-members="{ids}">'
                       f'&#9656; {count} step{"s" if count != 1 else ""} {_e(span(row.events))}</div>')
            rows.append(f'<tr class="step foldrow{switch}" data-fold="{n}"><td class="idx">'
                        f'{first.index}{"&ndash;" + str(last.index) if count > 1 else ""}</td>'
                        f"{lane_cells(row.tid, first.index, summary)}</tr>")
            shown = row.events
            gap = 0
            if len(shown) > FOLD_DETAIL:
                gap = len(shown) - FOLD_DETAIL
                shown = shown[: FOLD_DETAIL // 2] + [None] + shown[-FOLD_DETAIL // 2:]
            for e in shown:
                if e is None:
                    more = f"<div class=gap>&hellip; {gap} more steps</div>"
                    rows.append(f'<tr class="detail f{n}" hidden><td class="idx"></td>'
                                f"{lane_cells(row.tid, first.index, more)}</tr>")
                    continue
                rows.append(f'<tr class="detail f{n}" hidden><td class="idx">{e.index}</td>'
                            f"{lane_cells(row.tid, e.index, event_box(e))}</tr>")
        if row.preempted:
            rows.append(f'<tr class="preempt"><td class="idx"></td>'
                        f'{lane_cells(row.tid, last.index, "<div class=pre>&#9889; preempted</div>")}</tr>')
    if cells:
        fail = "".join(
            '<td class="lane">' + (f"<div class=failcell>{_e(cells[tid])}</div>" if tid in cells else "")
            + "</td>" for tid in tids)
        rows.append(f'<tr class="failrow"><td class="idx">&#10007;</td>{fail}</tr>')

    head = "".join(f'<th class="lane-head" data-tid="{tid}">{_e(names[tid])}</th>' for tid in tids)
    timeline = (f'<table id="timeline"><thead><tr><th class="idx">step</th>{head}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody></table>')
    legend = "".join(f'<span class="lg"><span class="bar" style="background:{colour[label]}"></span>'
                     f"{_e(label)}</span>" for label in labels)

    sections = []
    if failure is not None:
        sections.append(f'<h2>Failure</h2><p class="message">{_e(failure.message)}</p>')
        if failure.traceback:
            sections.append(f"<h3>Exception</h3><pre class=tb>{_e(clean_traceback(failure.traceback))}</pre>")
        for block in failure.details:
            sections.append(f"<pre class=details>{_e(block)}</pre>")
    races = [r for r in getattr(result, "races", []) if not getattr(r, "suppressed", False)]
    for item in races + list(getattr(result, "lock_inversions", [])):
        try:
            title = "Note: benign race" if getattr(item, "note", False) else "Race report"
            sections.append(f"<h3>{title}</h3><pre class=race>{_e(item.format())}</pre>")
        except Exception:  # noqa: BLE001 - a report must render even if a finding cannot format itself
            continue
    sources = _sources(a, failure, files)
    shrunk = getattr(result, "shrink", None)
    steps = f"the last {len(a.events)} of {a.skipped + len(a.events)}" if a.skipped else f"{len(a.events)}"
    facts = [f"{steps} steps", f"{len(a.preemptions)} preemption(s)",
             f"{a.switches} context switch(es)", f"threads: {len(tids)}", f"strategy {result.strategy}",
             f"seed {result.seed}", f"model {result.model}"]
    if shrunk is not None and not shrunk.skipped:
        facts.append(f"schedule {shrunk.summary()}")
    replay = (f'<h2>Replay</h2><pre class="replay" id="replay">{_e(replay_command)}</pre>'
              if replay_command else "")
    data = json.dumps({"edges": edges, "last": last_index}).replace("<", "\\u003c")
    heading = title or (failure.message if failure is not None else "interlace report")
    return _PAGE.format(
        title=_e(heading[:200]), heading=_e(heading), facts=_e(" · ".join(facts)), replay=replay,
        timeline=timeline, legend=legend, sources=sources, sections="".join(sections), data=data,
        css=_CSS, js=_JS,
    )


def _sources(a: Any, failure: Any, files: Any = None) -> str:
    sites: dict[tuple[str, int], None] = {}
    for row in a.rows:
        if row.important and row.events[0].site:
            sites[(row.events[0].site[0], row.events[0].site[1])] = None
    fsite = failure_site(failure, files)
    if fsite:
        sites[fsite] = None
    blocks = []
    for filename, lineno in sites:
        lines = []
        for n in range(max(1, lineno - 2), lineno + 3):
            text = linecache.getline(filename, n)
            if not text:
                continue
            cls = ' class="here"' if n == lineno else ""
            lines.append(f"<span{cls}>{n:>5}  {_e(text.rstrip())}</span>")
        if lines:
            blocks.append(f"<h4>{_e(os.path.basename(filename))}:{lineno}</h4><pre class=src>"
                          + "\n".join(lines) + "</pre>")
    return "<h2>Source</h2>" + "".join(blocks) if blocks else ""


_CSS = """
:root { --zoom: 1; }
body { font: calc(13px * var(--zoom)) system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 4px; } h2 { font-size: 1.15em; margin-top: 1.4em; }
.facts { color: #555; margin-bottom: 8px; }
.controls button, .controls label { margin-right: 6px; font-size: 0.9em; }
#wrap { position: relative; overflow: auto; max-height: 75vh; border: 1px solid #ccc; }
#timeline { border-collapse: collapse; table-layout: fixed; min-width: 100%; }
#timeline th { position: sticky; top: 0; background: #f4f4f4; z-index: 3; border-bottom: 1px solid #bbb;
  padding: 4px; text-align: left; }
#timeline td { padding: 1px 4px; vertical-align: top; border-left: 1px solid #eee; }
td.idx, th.idx { width: 5.5em; color: #888; text-align: right; font-family: monospace; }
.lane { position: relative; }
.bars { position: absolute; left: 0; top: 0; bottom: 0; display: flex; gap: 1px; }
.bar { display: inline-block; width: 4px; height: 100%; min-height: 1em; opacity: 0.8; }
.lg { margin-right: 12px; } .lg .bar { height: 1em; vertical-align: middle; margin-right: 3px; }
.ev { margin-left: 12px; font-family: monospace; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; border: 1px solid transparent; border-radius: 3px; padding: 0 3px; }
.ev .loc { color: #888; }
.k-read { color: #08519c; } .k-write, .k-delete { color: #a63603; }
.k-acquire, .k-release { color: #54278f; border-color: #bcbddc; }
.k-start, .k-join { color: #006d2c; }
.ev.hl { background: #fff3b0; border-color: #e6a700; font-weight: bold; }
.fold { color: #777; cursor: pointer; font-style: italic; }
.fold:hover { background: #eee; }
tr.switch td { border-top: 1px dashed #bbb; }
tr.detail .ev { opacity: 0.85; }
.pre { margin-left: 12px; color: #c00; font-weight: bold; }
.gap { margin-left: 12px; color: #999; }
.failrow td { background: #fde0e0; }
.failcell { margin-left: 12px; color: #a00; font-weight: bold; white-space: normal; }
pre { background: #f7f7f7; padding: 8px; overflow: auto; }
pre.replay { background: #222; color: #eee; font-size: 1.05em; }
pre.src .here { background: #fff3b0; display: inline-block; width: 100%; }
.message { font-size: 1.1em; color: #a00; font-weight: bold; }
svg#arrows { position: absolute; left: 0; top: 0; pointer-events: none; z-index: 2; }
path.hb { fill: none; stroke-width: 1.5; opacity: 0.7; }
path.hb-lock { stroke: #756bb1; } path.hb-start, path.hb-join { stroke: #31a354; }
path.hb-handoff { stroke: #e6550d; stroke-dasharray: 4 2; }
"""

_JS = """
(function () {
  var data = JSON.parse(document.getElementById('data').textContent);
  var wrap = document.getElementById('wrap');
  var svgNS = 'http://www.w3.org/2000/svg';
  var svg = document.createElementNS(svgNS, 'svg');
  svg.id = 'arrows';
  wrap.appendChild(svg);
  var defs = document.createElementNS(svgNS, 'defs');
  defs.innerHTML = '<marker id="head" viewBox="0 0 10 10" refX="9" refY="5" ' +
    'markerWidth="6" markerHeight="6" orient="auto-start-reverse">' +
    '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker>';
  svg.appendChild(defs);
  var foldOf = {};
  document.querySelectorAll('.fold').forEach(function (f) {
    f.getAttribute('data-members').split(' ').forEach(function (i) { foldOf[i] = f; });
  });
  function visible(el) { return el && el.offsetParent !== null; }
  function box(index) {
    var el = document.getElementById('ev' + index);
    if (visible(el)) return el;
    var f = foldOf[index];
    return visible(f) ? f : null;
  }
  function draw() {
    Array.prototype.slice.call(svg.querySelectorAll('path.hb')).forEach(function (p) { p.remove(); });
    svg.setAttribute('width', wrap.scrollWidth);
    svg.setAttribute('height', wrap.scrollHeight);
    if (!document.getElementById('show-arrows').checked) return;
    var origin = wrap.getBoundingClientRect();
    data.edges.forEach(function (edge) {
      var a = box(edge[0]), b = box(edge[1]);
      if (!a || !b || a === b) return;
      var ra = a.getBoundingClientRect(), rb = b.getBoundingClientRect();
      var x1 = ra.left - origin.left + wrap.scrollLeft + 14, y1 = ra.bottom - origin.top + wrap.scrollTop - 2;
      var x2 = rb.left - origin.left + wrap.scrollLeft + 14, y2 = rb.top - origin.top + wrap.scrollTop + 2;
      var p = document.createElementNS(svgNS, 'path');
      var mid = (y1 + y2) / 2;
      p.setAttribute('d', 'M' + x1 + ',' + y1 + ' C' + x1 + ',' + mid + ' ' +
        x2 + ',' + mid + ' ' + x2 + ',' + y2);
      p.setAttribute('class', 'hb hb-' + edge[2]);
      p.setAttribute('marker-end', 'url(#head)');
      p.setAttribute('data-from', edge[0]);
      p.setAttribute('data-to', edge[1]);
      svg.appendChild(p);
    });
  }
  function toggle(n, open) {
    document.querySelectorAll('tr.f' + n).forEach(function (r) { r.hidden = !open; });
    var f = document.getElementById('fold' + n);
    if (f) f.classList.toggle('open', open);
  }
  document.querySelectorAll('.fold').forEach(function (f) {
    f.addEventListener('click', function () {
      var n = f.getAttribute('data-fold');
      toggle(n, !f.classList.contains('open'));
      draw();
    });
  });
  function all(open) {
    document.querySelectorAll('.fold').forEach(function (f) { toggle(f.getAttribute('data-fold'), open); });
    draw();
  }
  document.getElementById('expand').onclick = function () { all(true); };
  document.getElementById('collapse').onclick = function () { all(false); };
  var zoom = 1;
  function setZoom(z) { zoom = Math.max(0.4, Math.min(2.5, z));
    document.documentElement.style.setProperty('--zoom', zoom); draw(); }
  document.getElementById('zoom-in').onclick = function () { setZoom(zoom * 1.2); };
  document.getElementById('zoom-out').onclick = function () { setZoom(zoom / 1.2); };
  document.getElementById('show-arrows').onchange = draw;
  window.addEventListener('resize', draw);
  draw();
  document.body.setAttribute('data-arrows', svg.querySelectorAll('path.hb').length);
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>interlace: {title}</title>
<style>{css}</style></head>
<body>
<h1>{heading}</h1>
<div class="facts">{facts}</div>
{replay}
<h2>Timeline</h2>
<div class="controls">
<button id="expand">Expand all</button><button id="collapse">Collapse all</button>
<button id="zoom-out">&minus;</button><button id="zoom-in">+</button>
<label><input type="checkbox" id="show-arrows" checked> happens-before arrows</label>
<span class="legend">{legend}</span>
</div>
<div id="wrap">{timeline}</div>
{sections}
{sources}
<script type="application/json" id="data">{data}</script>
<script>{js}</script>
</body></html>
"""
