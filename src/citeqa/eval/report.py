"""Write an eval run as Markdown, JSON and a PNG chart of the side-by-side figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from citeqa.files import write_atomic

_COLUMNS = ("R@1", "R@3", "R@5", "R@10", "MRR@10", "nDCG@10", "answered_right", "shown_right", "confidently_wrong",
            "wrongly_declined", "abstain_recall", "search_ms_p50", "ask_ms_p50")
_CHART = ("R@1", "R@5", "MRR@10", "nDCG@10", "answered_right", "shown_right", "confidently_wrong", "wrongly_declined")


def markdown(summary: dict[str, Any]) -> str:
    """A side-by-side table of all retrievers, then per-kind tables."""
    rets: dict[str, dict[str, Any]] = summary["retrievers"]
    lines = [f"# citeqa eval — {summary['questions']} questions ({summary.get('split') or 'all splits'})", ""]
    lines += _table(rets, _COLUMNS)
    kinds = sorted({k for m in rets.values() for k in m.get("by_kind", {})})
    for kind in kinds:
        lines += ["", f"## {kind}", ""]
        lines += _table({n: m["by_kind"][kind] for n, m in rets.items() if kind in m.get("by_kind", {})}, _COLUMNS)
    return "\n".join(lines) + "\n"


def _table(rows: dict[str, dict[str, Any]], cols: tuple[str, ...]) -> list[str]:
    out = ["| retriever | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, m in rows.items():
        cells = [_fmt(m.get(c)) for c in cols]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


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
        vals = [rets[name].get(m) or 0.0 for m in _CHART]
        bars = ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(x, _CHART)
    ax.set_ylim(0, 1.08)
    ax.set_title(f"citeqa eval: {summary['questions']} questions ({summary.get('split') or 'all splits'})")
    ax.legend(loc="upper right", fontsize=8)
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
