"""The report's stylesheet, inlined into every page (no file, no font or script fetched)."""

CSS = """
:root {
  --ink: #1d232b; --muted: #5d6673; --faint: #8a93a0; --line: #e3e6ea; --bg: #f5f6f8;
  --card: #ffffff; --accent: #1f5f99; --accent-soft: #e8f0f8;
  --ok: #1e7b34; --ok-soft: #e6f4ea; --bad: #b3261e; --bad-soft: #fdecea;
  --warn: #8a5a00; --warn-soft: #fff4dc; --mono: ui-monospace, "SF Mono", Menlo, Consolas,
  "DejaVu Sans Mono", monospace;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue",
    Arial, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
  font-variant-numeric: tabular-nums;
}
main { max-width: 1060px; margin: 0 auto; padding: 28px 24px 56px; }
header.top { display: flex; align-items: baseline; justify-content: space-between;
  flex-wrap: wrap; gap: 4px 24px; margin-bottom: 18px; }
header.top h1 { font-size: 22px; margin: 0; font-weight: 650; letter-spacing: -0.01em;
  overflow-wrap: anywhere; }
header.top .brand { color: var(--accent); font-weight: 700; letter-spacing: 0.02em;
  font-size: 13px; text-transform: uppercase; display: block; margin-bottom: 2px; }
header.top .meta { color: var(--muted); font-size: 13px; }
nav.toc { display: flex; flex-wrap: wrap; gap: 6px; margin: 0 0 18px; }
nav.toc a { color: var(--muted); text-decoration: none; font-size: 13px; padding: 3px 10px;
  border: 1px solid var(--line); border-radius: 999px; background: var(--card); }
nav.toc a:hover { color: var(--accent); border-color: var(--accent); }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 20px 24px; margin: 0 0 18px; box-shadow: 0 1px 2px rgba(20, 30, 45, 0.04); }
h2 { font-size: 17px; margin: 0 0 4px; font-weight: 650; }
h3 { font-size: 14px; margin: 18px 0 6px; font-weight: 650; }
p.lead { color: var(--muted); margin: 0 0 12px; font-size: 14px; }
.answer { display: grid; grid-template-columns: minmax(0, 1.15fr) minmax(0, 1fr); gap: 8px 32px; }
.answer .eyebrow { color: var(--muted); font-size: 13px; text-transform: uppercase;
  letter-spacing: 0.05em; font-weight: 600; }
.answer .lr { font-size: 46px; line-height: 1.1; font-weight: 700; color: var(--accent);
  letter-spacing: -0.02em; margin: 4px 0 6px; }
.answer .lr.none { color: var(--bad); font-size: 30px; }
.answer .interval { font-size: 16px; margin-bottom: 10px; }
.answer .interval b { font-weight: 650; }
.answer .interval .factor { color: var(--muted); }
.answer .meaning { color: var(--muted); font-size: 14px; margin: 0 0 12px; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0 0; }
.chip { display: inline-block; font-size: 12.5px; font-weight: 600; padding: 2px 10px;
  border-radius: 999px; background: var(--accent-soft); color: var(--accent); }
.status-detail { color: var(--muted); font-size: 13px; align-self: center; }
.chip.converged { background: var(--ok-soft); color: var(--ok); }
.chip.not-converged, .chip.single-sweep { background: var(--warn-soft); color: var(--warn); }
.chip.none { background: var(--bad-soft); color: var(--bad); }
.facts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 10px;
  align-content: start; }
.fact { background: #f7f8fa; border: 1px solid #eceef2; border-radius: 8px; padding: 8px 12px; }
.fact .k { color: var(--muted); font-size: 12.5px; line-height: 1.35; }
.fact .v { font-weight: 650; font-size: 15px; margin-top: 2px; }
.warn { background: var(--warn-soft); color: var(--warn); border-radius: 8px;
  padding: 8px 12px; margin: 10px 0 0; font-size: 14px; }
ol.next { margin: 6px 0 0; padding-left: 22px; }
ol.next li { margin: 4px 0; }
ol.next .how { display: block; color: var(--muted); font-size: 13px; }
code, pre { font-family: var(--mono); font-size: 12.5px; }
code { background: #f0f2f5; border-radius: 4px; padding: 1px 5px; overflow-wrap: anywhere; }
pre { background: #f6f7f9; border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 10px; margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.next-col { grid-column: 1 / -1; border-top: 1px solid var(--line); padding-top: 4px; }
figure { margin: 10px 0 0; }
figure + figure { margin-top: 18px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
svg.fig { width: 100%; height: auto; display: block; }
svg.fig * { stroke-linejoin: round; stroke-linecap: butt; }
.table-wrap { overflow: auto; max-height: 560px; border: 1px solid var(--line);
  border-radius: 8px; margin-top: 10px; }
table.data { border-collapse: separate; border-spacing: 0; width: 100%; font-size: 13.5px; }
table.data th { position: sticky; top: 0; background: #f0f2f5; text-align: right;
  font-weight: 600; color: var(--muted); padding: 7px 10px; border-bottom: 1px solid var(--line);
  white-space: nowrap; }
table.data td { padding: 5px 10px; text-align: right; border-bottom: 1px solid #eef0f3;
  white-space: nowrap; }
table.data th.l, table.data td.l { text-align: left; }
table.data td.wrap { white-space: normal; min-width: 150px; }
table.data td.err { white-space: normal; color: var(--muted); max-width: 360px;
  text-align: left; font-size: 12.5px; }
table.data tr.best td { background: var(--accent-soft); }
table.data tr.best td:first-child { box-shadow: inset 3px 0 0 var(--accent); }
.pill { display: inline-block; font-size: 12px; font-weight: 600; padding: 0 8px;
  border-radius: 999px; }
.pill.ok { background: var(--ok-soft); color: var(--ok); }
.pill.diverged { background: var(--bad-soft); color: var(--bad); }
.pill.failed { background: #eceef1; color: #50575f; }
table.kv { border-collapse: collapse; width: 100%; font-size: 13.5px; }
table.kv > tbody > tr > th { text-align: left; vertical-align: top; font-weight: 500;
  color: var(--muted); padding: 5px 16px 5px 0; width: 1%; white-space: nowrap;
  font-family: var(--mono); font-size: 12.5px; }
table.kv > tbody > tr > td { padding: 5px 0; vertical-align: top; overflow-wrap: anywhere; }
table.kv > tbody > tr + tr > * { border-top: 1px solid #eef0f3; }
table.kv table.kv { background: #fafbfc; border-left: 2px solid var(--line); }
table.kv table.kv > tbody > tr > th { padding-left: 10px; }
.fingerprint { font-family: var(--mono); font-size: 12.5px; color: var(--muted);
  overflow-wrap: anywhere; }
.empty { color: var(--faint); font-style: italic; }
details summary { cursor: pointer; color: var(--muted); font-size: 13px; margin-top: 12px; }
footer { color: var(--faint); font-size: 12px; text-align: center; margin-top: 26px; }
@media (max-width: 760px) {
  .answer { grid-template-columns: 1fr; }
  main { padding: 16px 10px 40px; }
  section.card { padding: 16px; }
}
@media print {
  body { background: #fff; }
  section.card { box-shadow: none; break-inside: avoid; }
  .table-wrap { max-height: none; overflow: visible; }
  nav.toc { display: none; }
}
"""
