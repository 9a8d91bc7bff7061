"""Write an eval run as Markdown, JSON and a PNG chart of the side-by-side figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from citeqa.files import write_atomic

_COLUMNS = ("R@1", "R@3", "R@5", "R@10", "MRR@10", "nDCG@10", "answered_right", "shown_right", "confidently_wrong",
            "wrongly_declined", "abstain_recall", "search_ms_p50", "ask_ms_p50")
_CHART = ("R@1", "R@5", "MRR@10", "nDCG@10", "answered_right", "shown_right", "confidently_wrong", "wrongly_declined",
          "offtopic_declined", "conversation_recognised")


def markdown(summary: dict[str, Any]) -> str:
    """A side-by-side table of all retrievers, then per-kind tables."""
    rets: dict[str, dict[str, Any]] = summary["retrievers"]
    lines = [f"# citeqa eval — {summary['questions']} questions ({summary.get('split') or 'all splits'})", "",
             "Each figure with its 95 % interval (bootstrap over questions); n/a: the figure does not apply.", ""]
    lines += _table(rets, _COLUMNS)
    kinds = sorted({k for m in rets.values() for k in m.get("by_kind", {})})
    for kind in kinds:
        lines += ["", f"## {kind}", ""]
        lines += _table({n: m["by_kind"][kind] for n, m in rets.items() if kind in m.get("by_kind", {})}, _COLUMNS)
    return "\n".join(lines) + "\n"


def _table(rows: dict[str, dict[str, Any]], cols: tuple[str, ...]) -> list[str]:
    out = ["| retriever | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, m in rows.items():
        cells = [_fmt(m.get(c), (m.get("ci95") or {}).get(c)) for c in cols]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def _fmt(v: Any, ci: list[float] | None = None) -> str:
    """A figure with its 95 % interval under it; "n/a" where it does not apply (never 0)."""
    if v is None:
        return "n/a"
    if not isinstance(v, float):
        return str(v)
    if ci and all(isinstance(x, float) and x == x for x in ci):
        digits = 1 if v >= 10 else 3  # latencies in ms
        return f"{v:.{digits}f}<br>[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    return f"{v:.3f}"


def write_report(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write report.md, report.json and report.png into ``out_dir`` (each atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "report.md", out_dir / "report.json", out_dir / "report.png"]
    write_atomic(paths[0], markdown(summary))
    write_atomic(paths[1], json.dumps(summary, ensure_ascii=False, indent=2))
    _chart(summary, paths[2])
    return paths


def _chart(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; set here, not at import
    import matplotlib.pyplot as plt
    import numpy as np

    rets = summary["retrievers"]
    names = list(rets)
    x = np.arange(len(_CHART))
    width = 0.8 / max(1, len(names))
    fig, (ax, rel) = plt.subplots(1, 2, figsize=(14, 4.5), dpi=120, gridspec_kw={"width_ratios": [3, 1]})
    for i, name in enumerate(names):
        m = rets[name]
        at = x + i * width - 0.4 + width / 2
        vals = [m.get(f) for f in _CHART]
        ci = m.get("ci95") or {}
        have = [j for j, v in enumerate(vals) if v is not None]
        err = np.array([[max(0.0, vals[j] - (ci.get(_CHART[j]) or [vals[j]] * 2)[0]) for j in have],
                        [max(0.0, (ci.get(_CHART[j]) or [vals[j]] * 2)[1] - vals[j]) for j in have]])
        bars = ax.bar(at[have], [vals[j] for j in have], width, label=name, yerr=err if have else None,
                      error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
        for j, v in enumerate(vals):
            if v is None:  # does not apply: say so, never draw a 0 bar
                ax.text(at[j], 0.02, "n/a", ha="center", va="bottom", fontsize=6, rotation=90, color="#666666")
    ax.set_xticks(x, _CHART, rotation=20, ha="right")
    ax.set_ylim(0, 1.2)  # room above the bars for the legend
    ax.set_title(f"citeqa eval: {summary['questions']} questions ({summary.get('split') or 'all splits'}); "
                 "bars with 95 % intervals", fontsize=10)
    ax.legend(loc="upper center", ncol=max(1, len(names)), fontsize=8, frameon=False)
    ax.tick_params(axis="x", labelsize=7)
    _reliability(rel, rets)
    fig.tight_layout()
    try:
        write_atomic(path, lambda f: fig.savefig(f, format="png"))  # the temp name has no .png to infer it from
    finally:
        plt.close(fig)


def _reliability(ax: Any, rets: dict[str, dict[str, Any]]) -> None:
    """Confidence against how often the quotes shown were right, per 0.1 band (on the diagonal: honest)."""
    ax.plot([0, 1], [0, 1], color="#999999", linewidth=1, linestyle="--")
    for name, m in rets.items():
        bands = [b for b in m.get("reliability") or [] if b["questions"]]
        if bands:
            ax.plot([b["confidence"] for b in bands], [b["accuracy"] for b in bands], marker="o", label=name)
            for b in bands:
                ax.annotate(str(b["questions"]), (b["confidence"], b["accuracy"]), fontsize=6, xytext=(2, 2),
                            textcoords="offset points")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence (band mean)", fontsize=8)
    ax.set_ylabel("shown quotes right", fontsize=8)
    ax.set_title("reliability (n per band)", fontsize=9)
    if ax.get_legend_handles_labels()[0]:  # a run with no answerer (the peer baseline only) has no curve
        ax.legend(loc="upper left", fontsize=7)
