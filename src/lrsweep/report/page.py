"""The report page: one HTML document laid out from the facts and figures it is given.
Every string that came from a user (study names, protocol values, errors) goes through
``esc``; the figures are SVG that matplotlib wrote."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

from ..plot.fmt import fmt_lr, fmt_metric
from .facts import Answer
from .style import CSS

__all__ = ["GENERATOR", "esc", "page", "render_value", "rounds_caption"]

GENERATOR = "lrsweep report"


def esc(value: Any) -> str:
    """HTML-escape any value (quotes too: safe in text and in attributes)."""
    return html.escape(str(value), quote=True)


def render_value(value: Any, depth: int = 0) -> str:
    """A protocol value as HTML: a dict as a nested key-value table, a short list inline, a
    long or multi-line string in a ``<pre>``; every key and value escaped."""
    if isinstance(value, dict):
        if not value:
            return '<span class="empty">empty</span>'
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{render_value(v, depth + 1)}</td></tr>"
                       for k, v in value.items())
        return f'<table class="kv"><tbody>{rows}</tbody></table>'
    if isinstance(value, (list, tuple)):
        if not value:
            return '<span class="empty">none</span>'
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            text = ", ".join(_scalar(v) for v in value)
            if len(text) <= 160:
                return f"<code>{esc(text)}</code>"
            return f"<pre>{esc(chr(10).join(_scalar(v) for v in value))}</pre>"
        if not _has_dict(value):  # lists of short lists (shapes) read best as written
            text = json.dumps(value, default=str)
            if len(text) <= 160:
                return f"<code>{esc(text)}</code>"
        return render_value({str(i): v for i, v in enumerate(value)}, depth)
    if value is None:
        return '<span class="empty">none</span>'
    text = _scalar(value)
    if "\n" in text or len(text) > 120:
        return f"<pre>{esc(text)}</pre>"
    return f"<code>{esc(text)}</code>"


def _has_dict(v: Any) -> bool:
    if isinstance(v, dict):
        return True
    return isinstance(v, (list, tuple)) and any(_has_dict(x) for x in v)


def _scalar(v: Any) -> str:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    if isinstance(v, (str, int, bool)):
        return str(v)
    return json.dumps(v, default=str)


def _answer(a: Answer, metric_label: str) -> str:
    facts = "".join(f'<div class="fact"><div class="k">{esc(k)}</div>'
                    f'<div class="v">{esc(v)}</div></div>' for k, v in a.facts)
    chips = f'<span class="chip {esc(a.status)}">{esc(a.status_text)}</span>'
    if a.status_detail:
        chips += f'<span class="status-detail">{esc(a.status_detail)}</span>'
    warn = "".join(f'<p class="warn">{esc(w)}</p>' for w in a.warnings)
    steps = []
    for s in a.next:
        how = []
        if s.cli:
            how.append(f"CLI <code>{esc(s.cli)}</code>")
        if s.api:
            how.append(f"Python <code>{esc(s.api)}</code>")
        extra = f'<span class="how">{" &middot; ".join(how)}</span>' if how else ""
        steps.append(f"<li>{esc(s.text)}{extra}</li>")
    if a.found:
        interval = (f'<div class="interval">{esc(a.interval_name)} <b>{esc(a.interval)}</b>'
                    + (f' <span class="factor">&middot; {esc(a.ratio)}</span>' if a.ratio else "")
                    + "</div>")
        lr = f'<div class="lr" id="optimum-lr">lr = {esc(a.lr)}</div>'
    else:
        interval = ""
        lr = '<div class="lr none" id="optimum-lr">no optimum</div>'
    details = ""
    if a.extra:
        details = ("<details><summary>Every other field of the estimate</summary>"
                   + render_value(dict(a.extra)) + "</details>")
    return f"""
<section class="card answer" id="answer">
  <div>
    <div class="eyebrow">optimal learning rate &middot; {esc(metric_label)}</div>
    {lr}
    {interval}
    <p class="meaning">{esc(a.meaning)}</p>
    <div class="chips">{chips}</div>
    {warn}
  </div>
  <div class="facts">{facts}</div>
  <div class="next-col">
    <h3>What to do next</h3>
    <ol class="next">{"".join(steps)}</ol>
    {details}
  </div>
</section>"""


def _section(id_: str, title: str, lead: str, body: str) -> str:
    lead_html = f'<p class="lead">{lead}</p>' if lead else ""
    return (f'<section class="card" id="{esc(id_)}"><h2>{esc(title)}</h2>{lead_html}'
            f"{body}</section>")


def _trials_table(result: Any, rounds: dict[Any, int], best_lr: float | None) -> str:
    has_rounds = bool(rounds)
    stacked = any(t.group for t in result.trials)
    # a stacked trial's time is its equal share of its group's wall time: the group column
    # says which trials trained together (and how many shared that time)
    sizes: dict[str, int] = {}
    for t in result.trials:
        if t.group:
            sizes[t.group] = sizes.get(t.group, 0) + 1
    head = ["lr", "seed"] + (["round"] if has_rounds else []) + [
        "status", result.metric_name, "final loss", "steps"] + (
        ["group", "time s (share)"] if stacked else ["time s"])
    errors = any(t.error for t in result.trials)
    cells = "".join(f"<th>{esc(h)}</th>" for h in head)
    cells += '<th class="l">error</th>' if errors else ""
    rows = []
    for t in result.trials:
        final = t.curve[-1] if t.curve else None
        err = (t.error or "").strip().splitlines()
        cls = ' class="best"' if best_lr is not None and t.lr == best_lr else ""
        tds = [f"<td>{esc(fmt_lr(t.lr, 4))}</td>", f"<td>{esc(t.seed)}</td>"]
        if has_rounds:
            tds.append(f"<td>{esc(rounds.get((t.lr, t.seed), rounds.get(t.lr, '')))}</td>")
        tds += [f'<td><span class="pill {esc(t.status.value)}">{esc(t.status.value)}</span></td>',
                f"<td>{esc(fmt_metric(t.metric))}</td>",
                f"<td>{esc('-' if final is None else format(final, '.4g'))}</td>",
                f"<td>{esc(t.steps)}</td>"]
        if stacked:
            tds.append(f"<td>{esc(f'{t.group} ({sizes[t.group]})' if t.group else '-')}</td>")
        tds.append(f"<td>{t.wall_time:.2f}</td>")
        if errors:
            tds.append(f'<td class="err">{esc(err[-1] if err else "")}</td>')
        rows.append(f"<tr{cls}>{''.join(tds)}</tr>")
    return (f'<div class="table-wrap"><table class="data"><thead><tr>{cells}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _rounds_table(rows: Sequence[dict[str, Any]]) -> str:
    head = ("round", "added", "why", "optimum after it", "interval", "high/low",
            "trials so far")
    body = []
    for r in rows:
        seeds = r["seeds"]
        what = f"{len(r['lrs'])} LR{'s' if len(r['lrs']) != 1 else ''}"
        if seeds:
            what += f" × seed{'s' if len(seeds) > 1 else ''} {','.join(map(str, seeds))}"
        if r["added"] is not None:
            what += f" ({r['added']} trials)"
        values = (r["index"], what, r["reason"], fmt_lr(r["lr"]),
                  f"{fmt_lr(r['low'])} – {fmt_lr(r['high'])}" if r["lr"] is not None else "-",
                  f"{r['ratio']:.2f}" if r["ratio"] else "-",
                  "-" if r["n_trials"] is None else r["n_trials"])
        body.append("<tr>" + "".join(_cell("td", v, i in (1, 2)) for i, v in enumerate(values))
                    + "</tr>")
    cells = "".join(_cell("th", h, i in (1, 2)) for i, h in enumerate(head))
    return (f'<div class="table-wrap"><table class="data"><thead><tr>{cells}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def rounds_caption(rows: Sequence[dict[str, Any]]) -> str:
    """The rounds figure's caption, true to it: how the interval's high/low went from round
    to round (it can widen: a new LR or seed can show the top to be less sure)."""
    ratios = [r.get("ratio") for r in rows]
    shown = " → ".join(f"x{v:.2f}" if v else "open" for v in ratios)
    text = ("Each round adds LRs (or seeds) where the optimum is still uncertain; blue: the "
            "optimum and its interval after the round.")
    if len(ratios) < 2:
        return text
    known = [v for v in ratios if v]
    if len(known) == len(ratios) and all(b <= a * 1.001 for a, b in zip(known, known[1:])):
        trend = "narrowed from round to round"
    elif len(known) == len(ratios) and known[-1] < known[0]:
        trend = "narrowed overall, though not every round"
    else:
        trend = "did not narrow steadily"
    return f"{text} Its high/low {trend}: {shown}."


def _cell(tag: str, value: Any, left: bool = False) -> str:
    cls = ' class="l wrap"' if left else ""
    return f"<{tag}{cls}>{esc(value)}</{tag}>"


def _figure(svg: str | None, caption: str) -> str:
    if not svg:
        return ""
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def page(*, title: str, meta: str, answer: Answer, metric_label: str, result: Any,
         figures: dict[str, str | None], rounds: Sequence[dict[str, Any]],
         round_of: dict[Any, int], search_text: str, protocol: dict[str, Any],
         fingerprint: str | None, law: dict[str, Any] | None, generated: str,
         version: str) -> str:
    """The whole document. ``figures``: metric, zoom, loss, rounds (inline SVG or None);
    ``law``: formula, text, svg (or None)."""
    best = result.best()
    n = len(result.trials)
    counts = {s: sum(t.status.value == s for t in result.trials)
              for s in ("ok", "diverged", "failed")}
    sections = [_answer(answer, metric_label)]
    toc = [("answer", "answer")]
    better = "higher" if result.direction == "max" else "lower"
    body = _figure(figures.get("metric"),
                   f"Each point is one trial ({esc(result.metric_name)}, {better} is better). "
                   "Blue: the fitted curve, the optimum (dashed) and its interval (shaded); "
                   "green bar: the near-optimal band; red crosses: LRs that diverged (they "
                   "have no metric). Every finished trial is on the axes, but for far outliers "
                   "marked at the edge.")
    body += _figure(figures.get("zoom"), "The same, close up on the optimum.")
    sections.append(_section("metric", f"{result.metric_name} against learning rate", "", body))
    toc.append(("metric", "metric vs LR"))
    sections.append(_section(
        "loss", "Training loss per trial",
        "One colour per LR (the bar on the right names them): the smoothed mean over seeds "
        "solid, each trial's raw loss faint; a diverged trial is dashed and crossed where it "
        "stopped.", _figure(figures.get("loss"), "") or '<p class="empty">no loss curves '
        "recorded</p>"))
    toc.append(("loss", "loss curves"))
    if rounds:
        sections.append(_section(
            "rounds", "Search rounds", esc(search_text),
            _figure(figures.get("rounds"), esc(rounds_caption(rounds)))
            + _rounds_table(rounds)))
        toc.append(("rounds", "search rounds"))
    summary = (f"{n} trials: {counts['ok']} ok, {counts['diverged']} diverged, "
               f"{counts['failed']} failed. The best LR's rows are highlighted.")
    sections.append(_section("trials", "Trials", esc(summary),
                             _trials_table(result, round_of, None if best is None
                                           else best.lr)))
    toc.append(("trials", "trials"))
    fp = (f'<p class="fingerprint">fingerprint sha256 {esc(fingerprint)}</p>'
          if fingerprint else "")
    sections.append(_section(
        "protocol", "Protocol",
        "Everything that defines a trial but its LR and seed: two runs with this protocol "
        "train the same trials. The fingerprint is the hash of it the store keys trials by.",
        fp + (render_value(protocol) if protocol else '<p class="empty">no protocol '
              "recorded</p>")))
    toc.append(("protocol", "protocol"))
    if law:
        sections.append(_section(
            "law", "Across scales", esc(law.get("lead", "")),
            _figure(law.get("svg"), esc(law.get("formula", ""))) + f"<pre>{esc(law['text'])}</pre>"))
        toc.append(("law", "across scales"))
    nav = "".join(f'<a href="#{esc(i)}">{esc(t)}</a>' for i, t in toc)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="{GENERATOR} {esc(version)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header class="top">
  <div><span class="brand">lrsweep report</span><h1>{esc(title)}</h1></div>
  <div class="meta">{esc(meta)}</div>
</header>
<nav class="toc">{nav}</nav>
{"".join(sections)}
<footer>Written by lrsweep {esc(version)} on {esc(generated)}. One self-contained file: it
loads nothing from the network.</footer>
</main>
</body>
</html>
"""
