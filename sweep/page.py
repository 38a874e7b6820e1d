"""The sweep's HTML page (``sweep.html``): the accuracy-energy Pareto front as a plot (area as colour, Pareto
points ringed, circuit-verified points labelled) and a table of every point linking to its report (Pareto
points) or its ``point.json``. Self-contained: the plot is embedded as a PNG."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from ipnet_cosim.sweep.records import Sweep


def pareto_plot_png(sweep: Sweep) -> bytes:
    """Accuracy (mean over chips) against energy per inference, one dot per point, coloured by area."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pts = sweep.points
    front = set(sweep.pareto_ids)
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=110)
    e = [p.energy_per_inference_j * 1e9 for p in pts]
    a = [p.accuracy_mean for p in pts]
    area = [p.area_m2 * 1e12 for p in pts]
    inside = [p.soa_within for p in pts]
    sc = ax.scatter([x for x, ok in zip(e, inside) if ok], [y for y, ok in zip(a, inside) if ok],
                    c=[c for c, ok in zip(area, inside) if ok], cmap="viridis", s=28, zorder=2,
                    vmin=min(area), vmax=max(area))
    if not all(inside):
        ax.scatter([x for x, ok in zip(e, inside) if not ok], [y for y, ok in zip(a, inside) if not ok],
                   c=[c for c, ok in zip(area, inside) if not ok], cmap="viridis", vmin=min(area), vmax=max(area),
                   marker="X", s=60, edgecolors="k", linewidths=0.5, zorder=2,
                   label="outside the card's limits (V or T)")
    fig.colorbar(sc, ax=ax, label="area, um^2")
    fp = sorted((p for p in pts if p.id in front), key=lambda p: p.energy_per_inference_j)
    ax.plot([p.energy_per_inference_j * 1e9 for p in fp], [p.accuracy_mean for p in fp], "r-", lw=1, zorder=1)
    ax.scatter([p.energy_per_inference_j * 1e9 for p in fp], [p.accuracy_mean for p in fp], s=90,
               facecolors="none", edgecolors="r", label="Pareto front (twin)", zorder=3)
    for p in fp:
        v = p.verified
        if v:
            ax.annotate(f"{v.simulator}: {v.circuit_accuracy:.2f} on {len(v.samples)}",
                        (p.energy_per_inference_j * 1e9, p.accuracy_mean), textcoords="offset points",
                        xytext=(6, -12), fontsize=7, color="r")
    ax.set_xlabel("energy per inference, nJ (computed from the twin)")
    ax.set_ylabel("accuracy (twin, mean over chips)")
    ax.set_title(f"{len(pts)} design points", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _value(v: Any) -> str:
    """A parameter value for people: floats to 6 significant digits (a log grid's 4.9999999e-4 is 0.0005)."""
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def write_sweep_page(out: Path, sweep: Sweep) -> Path:
    """``out/sweep.html`` for the sweep record ``sweep`` (as written to ``sweep.json``)."""
    png = base64.b64encode(pareto_plot_png(sweep)).decode()
    names = sorted({n for p in sweep.points for n in p.parameters})
    front = set(sweep.pareto_ids)
    rows = []
    for p in sorted(sweep.points, key=lambda p: (-p.accuracy_mean, p.energy_per_inference_j)):
        folder = Path(p.folder)
        target = folder / "report" / "report.html"
        if not target.is_file():                        # only the Pareto points have a report
            target = folder / "point.json"
        link = target.relative_to(out) if target.is_relative_to(out) else target
        v = p.verified
        check = (f"{v.simulator}: accuracy {v.circuit_accuracy:.2f} on {len(v.samples)} samples, classes "
                 f"agree {v.classes_agree_with_twin}/{len(v.samples)}" if v else "")
        cells = [f"<a href='{html.escape(str(link))}'>{p.id}</a>" + (" (Pareto)" if p.id in front else "")]
        cells += [html.escape(_value(p.parameters.get(n, ""))) for n in names]
        cells += [f"{p.accuracy_mean:.3f}", f"{p.energy_per_inference_j * 1e9:.4f}",
                  f"{p.area_m2 * 1e12:,.0f}", f"{p.soa_margin_v * 1e3:.2f}", f"{p.soa_margin_k:.1f}",
                  "yes" if p.soa_within else "NO", html.escape(check)]
        soa_col = len(cells) - 2
        rows.append("<tr>" + "".join(f"<td class='bad'>{c}</td>" if i == soa_col and not p.soa_within else
                                     f"<td>{c}</td>" for i, c in enumerate(cells)) + "</tr>")
    head = (["point"] + names + ["accuracy", "energy per inference, nJ", "area, um^2", "V margin, mV", "T margin, K",
                                 "SOA within", "circuit check"])
    outside = [p for p in sweep.points if not p.soa_within]
    soa_note = ""
    if outside:
        soa_note = (f"<p class='warn'><b>{len(outside)} of {len(sweep.points)} points operate outside the device "
                    f"card's limits</b> (a layer's peak MTJ voltage above the drive's compliance or its junction "
                    f"temperature above T_max; marked X in the plot, 'NO' in the table): their figures come from an "
                    f"operating point no chip reaches. The Pareto front is of "
                    f"{html.escape(sweep.pareto_among)}.</p>")
    ft = sweep.finetune
    finetuned = (f" Every point was fine-tuned for its card and crossbars first (hardware-aware, {ft['epochs']} "
                 f"epoch(s), lr {ft['lr']:g}, variation {html.escape(str(ft['variation']))})." if ft else "")
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ipnet-cosim sweep</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}th{{background:#eee}}
.warn{{background:#fde8e8;border-left:4px solid #c00;padding:6px 10px}}
td.bad{{color:#c00;font-weight:bold}}</style></head><body>
<h1>ipnet-cosim sweep: {len(sweep.points)} design points</h1>
<p>Checkpoint {html.escape(sweep.checkpoint)}; mode {html.escape(sweep.mode)}. Every figure is
computed from the PyTorch twin of the point's export (no circuit simulation) except the circuit check of the
Pareto points, which is simulated. Energy per inference and area from each point's report (chip 0).{finetuned}</p>
<p><b>Neurons:</b> {html.escape(sweep.firing_note)}; accuracy is the mean over chips and
draws.</p>
{soa_note}
<h2>Pareto front</h2>
<img alt="accuracy against energy per inference" src="data:image/png;base64,{png}">
<h2>Points</h2>
<table><tr>{''.join(f'<th>{html.escape(h)}</th>' for h in head)}</tr>
{chr(10).join(rows)}
</table>
</body></html>
"""
    path = out / "sweep.html"
    path.write_text(page, encoding="utf-8")
    return path
