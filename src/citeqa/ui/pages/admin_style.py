"""The admin page's one stylesheet and the Content-Security-Policy that allows it by its hash.

Inline, so the page fetches nothing and works offline; allowed by hash, so the policy needs no
``unsafe-inline`` and no script can run (``default-src 'none'``).
"""

from __future__ import annotations

import base64
import hashlib

CSS = """
:root { color-scheme: light dark; }
body { margin: 0; font-family: "Noto Sans CJK TC", "Noto Sans TC", "Microsoft JhengHei", system-ui, sans-serif;
  color: #1f2328; background: #ffffff; line-height: 1.6; }
header { display: flex; flex-wrap: wrap; gap: 8px 20px; align-items: center; padding: 12px 24px;
  background: #f6f8fa; border-bottom: 1px solid #d0d7de; }
header h1 { margin: 0; font-size: 1.25rem; flex: 1 1 12rem; }
nav { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: center; }
a { color: #0969da; }
nav a, nav button, .days a, .days strong { display: inline-flex; align-items: center; min-height: 44px;
  padding: 0 10px; }
nav button { font: inherit; color: #24292f; background: #ffffff; border: 1px solid #8c959f; border-radius: 6px;
  cursor: pointer; }
form.inline { display: inline; margin: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 8px 24px 48px; }
h2 { font-size: 1.15rem; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.days { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; color: #57606a; }
.days strong { color: #1f2328; }
.note { color: #57606a; margin: 4px 0 8px; }
.off { padding: 16px; border: 1px solid #d4a72c; background: #fff8c5; color: #3b2300; border-radius: 6px;
  font-size: 1.05rem; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; padding: 0; list-style: none; }
.cards li { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 16px; min-width: 10rem; }
.cards .n { display: block; font-size: 1.6rem; font-weight: 700; }
.cards .what { color: #57606a; font-size: 0.9rem; }
.scroll { overflow-x: auto; }
.latest { direction: rtl; }  /* a narrow screen opens the chart scrolled to today, not the oldest day */
.latest > svg { direction: ltr; }
.scroll:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
table { border-collapse: collapse; width: 100%; font-size: 0.95rem; }
th, td { border-bottom: 1px solid #d0d7de; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
ul.qs { margin: 0; padding-left: 1.1em; }
.more, .meta, .excerpt { color: #57606a; font-size: 0.88rem; }
.comment { white-space: pre-wrap; overflow-wrap: anywhere; }
.chip { display: inline-block; padding: 0 8px; margin: 1px 2px 1px 0; border-radius: 999px; border: 1px solid;
  font-size: 0.85rem; white-space: nowrap; }
.o-answered { color: #1a7f37; border-color: #8fd19e; background: #effbf1; }
.o-uncertain { color: #7a4d00; border-color: #e0c36a; background: #fffbe6; }
.o-not_found { color: #b42318; border-color: #fda29b; background: #fef3f2; }
.o-conversation { color: #57606a; border-color: #afb8c1; background: #f6f8fa; }
svg.chart { width: 100%; min-width: 540px; height: auto; max-height: 320px; display: block; }
table.wide { min-width: 44rem; }  /* on a phone the table scrolls in its box instead of squeezing */
svg .axis { stroke: #8c959f; stroke-width: 1; }
svg .grid { stroke: #d0d7de; stroke-width: 1; }
svg text { fill: #57606a; font-size: 12px; font-family: inherit; }
svg .f-answered { fill: #1a7f37; }
svg .f-uncertain { fill: #9a6700; }
svg .f-not_found { fill: #cf222e; }
svg .f-conversation { fill: #6e7781; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 4px 0; padding: 0; list-style: none; }
.legend li { display: inline-flex; align-items: center; gap: 6px; }
.legend svg { width: 14px; height: 14px; }
details { margin: 8px 0; }
details > summary { cursor: pointer; color: #0969da; min-height: 44px; display: flex; align-items: center; }
.signin { max-width: 28rem; margin: 48px auto; padding: 24px; border: 1px solid #d0d7de; border-radius: 8px; }
.signin label { display: block; font-weight: 600; margin-bottom: 6px; }
.signin input { font: inherit; width: 100%; box-sizing: border-box; min-height: 44px; padding: 6px 10px;
  border: 1px solid #8c959f; border-radius: 6px; color: #1f2328; background: #ffffff; }
.signin button { font: inherit; margin-top: 12px; min-height: 44px; padding: 0 20px; border-radius: 6px;
  border: 1px solid #0550ae; background: #0550ae; color: #ffffff; font-weight: 600; cursor: pointer; }
.error { color: #b42318; }
@media (prefers-color-scheme: dark) {
  body { color: #e6edf3; background: #0d1117; }
  header, th { background: #161b22; }
  header, h2, th, td, .cards li, .signin { border-color: #3d444d; }
  a, details > summary { color: #58a6ff; }
  nav button { color: #e6edf3; background: #21262d; border-color: #6e7681; }
  .days, .note, .more, .meta, .excerpt, .cards .what { color: #9198a1; }
  .days strong { color: #e6edf3; }
  .off { background: #3d2a00; color: #ffd591; border-color: #7a5a14; }
  .o-answered { color: #6ee787; border-color: #2f6e3b; background: #0f2a17; }
  .o-uncertain { color: #f2d46b; border-color: #7a5a14; background: #2d2500; }
  .o-not_found { color: #ffa198; border-color: #8e1519; background: #3a1614; }
  .o-conversation { color: #c9d1d9; border-color: #545d68; background: #21262d; }
  svg .axis { stroke: #6e7681; }
  svg .grid { stroke: #30363d; }
  svg text { fill: #9198a1; }
  svg .f-answered { fill: #3fb950; }
  svg .f-uncertain { fill: #d29922; }
  svg .f-not_found { fill: #f85149; }
  svg .f-conversation { fill: #8b949e; }
  .signin input { color: #e6edf3; background: #0d1117; border-color: #6e7681; }
  .signin button { background: #58a6ff; border-color: #58a6ff; color: #0d1117; }
  .error { color: #ff7b72; }
}
@media (max-width: 640px) {
  header, main { padding-left: 12px; padding-right: 12px; }
  th, td { padding: 4px 6px; }
}
"""

_STYLE_HASH = base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode()
# The inline stylesheet by its hash, nothing else: no script, no frame, forms only to this server.
CSP = (f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
