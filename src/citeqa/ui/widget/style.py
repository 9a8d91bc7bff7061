"""The ``<citeqa-chat>`` widget's stylesheet, inside its shadow root (``ui.widget.script``).

Why ``!important`` at ``:host``: the host element is styled by both the page and the shadow root,
and for important declarations the shadow root wins (CSS Cascade 4, "context"), so a host page's
``* { color: red !important }`` cannot reach the widget, not even through inheritance. Lengths are
in px and em, never rem: rem follows the host page's ``<html>`` font size. Colours are opaque so
contrast can be computed from them; each pair below is at least 4.5:1 (WCAG AA), light and dark,
and a browser test measures that.
"""

WIDGET_CSS = """
:host { all: initial !important; display: block !important; box-sizing: border-box !important;
  font-family: "Noto Sans CJK TC", "Noto Sans TC", "PingFang TC", "Microsoft JhengHei", system-ui,
  sans-serif !important; font-size: 16px !important; line-height: 1.6 !important; color: #1f2328 !important;
  direction: ltr !important; text-align: start !important; font-weight: 400 !important; font-style: normal !important;
  letter-spacing: normal !important; word-spacing: normal !important; white-space: normal !important;
  text-transform: none !important; text-indent: 0 !important; visibility: visible !important;
  cursor: auto !important; }
:host([hidden]) { display: none !important; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.panel { display: flex; flex-direction: column; gap: 8px; background: #ffffff; color: #1f2328;
  border: 1px solid #d0d7de; border-radius: 10px; padding: 12px; max-width: 100%; }
.head { display: flex; align-items: center; justify-content: space-between; gap: 8px; }
.head > div { min-width: 0; }
.actions { display: flex; gap: 8px; flex-shrink: 0; }
.title { margin: 0; font-size: 1.05em; font-weight: 700; }
.sub { margin: 0; color: #57606a; font-size: 0.85em; }
.log { position: relative; overflow-y: auto; max-height: min(520px, 62vh); display: flex; flex-direction: column;
  gap: 12px; padding: 2px; border-radius: 6px; }
.empty { margin: 0; color: #57606a; }
.notice { margin: 0; padding: 8px 10px; border-radius: 6px; background: #fff4e5; color: #7a4100;
  border: 1px solid #f0c27b; }
.turn { display: flex; flex-direction: column; gap: 6px; }
.turn + .turn { border-top: 1px dashed #d0d7de; padding-top: 10px; }
.q { margin: 0; align-self: flex-end; max-width: 90%; background: #ddf4ff; color: #0a3069; padding: 6px 10px;
  border-radius: 10px; white-space: pre-wrap; overflow-wrap: anywhere; }
.a { display: flex; flex-direction: column; gap: 6px; }
.text { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.resolved, .pending { margin: 0; color: #57606a; font-size: 0.85em; }
.error { margin: 0; color: #b42318; }
.badge { align-self: flex-start; padding: 1px 10px; border-radius: 999px; font-weight: 600; font-size: 0.9em; }
.abstain { background: #fff4e5; color: #7a4100; border: 1px solid #f0c27b; }
.uncertain { background: #fffbe6; color: #6b4e00; border: 1px dashed #c99a00; }
.conf { padding: 0 8px; border-radius: 999px; border: 1px solid; font-size: 0.85em; }
.conf-high { color: #1a7f37; border-color: #8fd19e; background: #effbf1; }
.conf-mid { color: #6b4e00; border-color: #e0c36a; background: #fffbe6; }
.conf-low { color: #b42318; border-color: #fda29b; background: #fef3f2; }
button { font: inherit; color: inherit; margin: 0; }
.btn { min-height: 44px; min-width: 44px; padding: 6px 14px; border-radius: 8px; border: 1px solid #d0d7de;
  background: #f6f8fa; color: #24292f; cursor: pointer; font-size: 0.9em; white-space: nowrap; flex-shrink: 0; }
.btn:hover { background: #eaeef2; }
.send { background: #0550ae; color: #ffffff; border-color: #0550ae; font-weight: 600; }
.send:hover { background: #033d8b; }
.tools { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; }
.rate { display: inline-flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.vote[aria-pressed="true"] { background: #ddf4ff; border-color: #0550ae; color: #0a3069; }
.rate-note { font-size: 0.85em; color: #57606a; }
.rate-note.bad { color: #b42318; }
.rate-form { display: flex; flex-wrap: wrap; gap: 6px; width: 100%; align-items: flex-end; }
.cite { display: inline-flex; align-items: center; justify-content: center; min-width: 24px; min-height: 24px;
  padding: 0 3px; margin: 0 1px; border: 0; border-radius: 4px; background: #ffffff; color: #0550ae;
  font-weight: 700; cursor: pointer; vertical-align: baseline; line-height: 1; }
.cite:hover { text-decoration: underline; }
details.sources > summary { display: flex; align-items: center; min-height: 44px; cursor: pointer; color: #0550ae;
  font-size: 0.9em; }
.sources ol { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
.src { border: 1px solid #d0d7de; border-left: 4px solid #0550ae; border-radius: 6px; padding: 6px 10px;
  background: #ffffff; }
.src.nearby { border-left-color: #6e7781; }
.src.focus { box-shadow: 0 0 0 3px #80b3ff; }
.num { font-weight: 700; color: #0550ae; margin-right: 6px; }
.label { font-weight: 600; }
.section, .file { margin: 2px 0; color: #57606a; font-size: 0.85em; }
.passage { margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.7; }
mark { background: #fff1a8; color: #1f2328; padding: 1px 0; border-radius: 2px; }
.open { display: inline-flex; align-items: center; min-height: 44px; color: #0550ae; font-size: 0.85em; }
form { display: flex; gap: 8px; align-items: flex-end; margin: 0; }
textarea { flex: 1; min-width: 0; min-height: 44px; max-height: 9em; resize: none; font: inherit; color: #1f2328;
  background: #ffffff; border: 1px solid #8c959f; border-radius: 8px; padding: 9px 10px; line-height: 1.5; }
textarea::placeholder { color: #6e7781; opacity: 1; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
  margin: -1px; padding: 0; border: 0; }
:focus { outline: none; }
:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
textarea:focus-visible, textarea:focus { outline: 3px solid #0969da; outline-offset: 1px; }
/* Bubble mode: a launcher fixed to the corner and a panel above it. */
.launcher { position: fixed; right: 20px; bottom: 20px; width: 60px; height: 60px; border-radius: 50%;
  border: 0; background: #0550ae; color: #ffffff; font-weight: 700; cursor: pointer; z-index: 2147483000;
  box-shadow: 0 4px 14px rgba(0, 0, 0, 0.25); }
.bubble .panel { position: fixed; right: 20px; bottom: 92px; width: min(400px, calc(100vw - 24px));
  max-height: calc(100vh - 112px); z-index: 2147483000; box-shadow: 0 8px 28px rgba(0, 0, 0, 0.25); }
.bubble .log { flex: 1 1 auto; max-height: none; min-height: 120px; }
@media (max-width: 480px) {
  .bubble .panel { right: 12px; bottom: 88px; }
  .launcher { right: 12px; bottom: 16px; }
}
@media (prefers-color-scheme: dark) {
  :host { color: #e6edf3 !important; }
  .panel { background: #0d1117; color: #e6edf3; border-color: #3d444d; }
  .sub, .empty, .resolved, .pending, .section, .file { color: #9ea7b3; }
  .notice, .abstain { background: #3d2a00; color: #ffd591; border-color: #7a5a14; }
  .uncertain { background: #2d2500; color: #f2d46b; border-color: #9e7c0c; }
  .turn + .turn { border-top-color: #3d444d; }
  .q { background: #12304f; color: #e6edf3; }
  .error { color: #ff8f87; }
  .conf-high { color: #6ee787; border-color: #2f6e3b; background: #0f2a17; }
  .conf-mid { color: #f2d46b; border-color: #7a5a14; background: #2d2500; }
  .conf-low { color: #ffa198; border-color: #8e1519; background: #3a1614; }
  .btn { background: #21262d; color: #e6edf3; border-color: #545d68; }
  .btn:hover { background: #30363d; }
  .vote[aria-pressed="true"] { background: #12304f; border-color: #58a6ff; color: #e6edf3; }
  .rate-note { color: #9ea7b3; }
  .rate-note.bad { color: #ff8f87; }
  .send, .launcher { background: #58a6ff; color: #0d1117; border-color: #58a6ff; }
  .send:hover { background: #79b8ff; }
  .cite { background: #0d1117; color: #79c0ff; }
  details.sources > summary, .num, .open { color: #79c0ff; }
  .src { background: #161b22; border-color: #3d444d; border-left-color: #58a6ff; }
  .src.nearby { border-left-color: #8b949e; }
  mark { background: #5a4500; color: #fff8d6; }
  textarea { background: #0d1117; color: #e6edf3; border-color: #6e7681; }
  textarea::placeholder { color: #9ea7b3; }
  :focus-visible, textarea:focus { outline-color: #79c0ff; }
}
"""
