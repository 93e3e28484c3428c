"""Markdown and self-contained HTML for a report (plots embedded as PNG data URIs)."""

import base64
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.load import HISTOGRAM_EDGES_MS  # noqa: E402
from analysis.model import Report  # noqa: E402
from analysis.stats import METRICS, gap_pct  # noqa: E402

MANIFEST_FACTS = (
    ("campaign_id", "campaign"),
    ("git_commit", "git commit"),
    ("started_at", "started"),
    ("finished_at", "finished"),
    ("k6_version", "k6"),
    ("seed", "run-order seed"),
)


def gap_table(report: Report) -> pd.DataFrame:
    rows = [c.as_json() for c in report.comparisons]
    if not rows:
        return pd.DataFrame(
            columns=["mode", "metric", "baseline_value", "value", "gap_pct", "ci95", "p_value", "n_pairs", "significant", "role", "q_value"]
        )
    frame = pd.DataFrame(rows)
    frame["ci95"] = frame["ci95"].map(lambda ci: f"{ci[0]:.2f} – {ci[1]:.2f}" if ci else "–")
    return frame


def mode_table(report: Report) -> pd.DataFrame:
    ok = report.runs[report.runs["status"] == "ok"]
    metrics = [*METRICS, "error_rate"]
    grouped = ok.groupby("mode")[metrics]
    mean, std = grouped.mean(), grouped.std()
    table = pd.DataFrame(
        {m: [f"{a:.4g} ± {b:.2g}" if pd.notna(b) else f"{a:.4g}" for a, b in zip(mean[m], std[m], strict=True)] for m in metrics},
        index=mean.index,
    )
    table.insert(0, "runs", grouped.size())
    return table


def facts(report: Report) -> list[tuple[str, str]]:
    manifest = report.campaign.manifest
    found = [(label, str(manifest.get(key))) for key, label in MANIFEST_FACTS if key in manifest]
    profile = manifest.get("profile", {})
    found.append(("profile", ", ".join(f"{k}={v}" for k, v in profile.items() if k != "modes")))
    host = manifest.get("host", {})
    if host:
        found.append(
            ("host", f"{host.get('cpu_model')}, {host.get('cores')} cores, {host.get('memory_mb')} MB, kernel {host.get('kernel')}")
        )
    docker = manifest.get("docker", {})
    if docker:
        found.append(("docker", ", ".join(f"{k} {v}" for k, v in docker.items())))
    db = manifest.get("db", {})
    if db:
        found.append(
            (
                "database",
                f"{db.get('engine')} {db.get('version') or ''} at {db.get('uri')}, dataset {db.get('dataset', {}).get('sha256', '?')[:12]}",
            )
        )
    if manifest.get("target"):
        found.append(("target", f"{manifest['target']}, services on {manifest.get('service_address')}"))
    for name, loadgen in (manifest.get("loadgens") or {}).items():
        clock = loadgen.get("clock") or {}
        found.append(
            (
                f"load generator {name}",
                f"{loadgen.get('k6_version')}, clock offset {clock.get('offset_s')} s ± {clock.get('uncertainty_s')} s",
            )
        )
    for mode, m in manifest.get("modes", {}).items():
        if isinstance(m, dict):
            found.append(
                (
                    f"mode {mode}",
                    f"{m.get('kind')} port {m.get('port')} network {m.get('network')} cpuset {m.get('cpuset')} "
                    f"packages {str(m.get('packages_sha256'))[:12]} payload {str(m.get('payload_sha256'))[:12]}",
                )
            )
    return found


def markdown(report: Report, out: Path | None = None) -> str:
    lines = [f"# Campaign {report.campaign_id}", "", "## Verdict", ""]
    lines += [f"- {h}" for h in report.headlines()] or ["- no mode to compare with the baseline"]
    if report.floor:
        twins = ", ".join(sorted(report.aa_modes))
        lines += ["", f"Noise floor (A/A, {twins} vs {report.baseline}): " + ", ".join(f"{k} {v:.2f}%" for k, v in report.floor.items())]
    steps = report.ladder_json()
    if steps is not None:
        lines += ["", "## Where the cost comes from (each step vs the rung before it, same rounds)", "", ladder_table(steps)]
        lines += ["", f"Caveat: {steps['caveat']}."] + ([f"Intervals: {steps['ci_note']}."] if steps.get("ci_note") else [])
    lines += [
        "",
        f"## Gap against {report.baseline} (positive = worse)",
        "",
        gap_table(report).to_markdown(index=False, floatfmt=".4g"),
        "",
        "## Health of every run",
        "",
        pd.DataFrame(
            [
                {
                    "run": f"[{h['run']}]({h['href']})",
                    "status": h["status"],
                    "flags": "; ".join(h["flags"]) or "–",
                    "CPU µs/request": h["cpu"],
                    "why left out": h["problem"] or "–",
                }
                for h in health_rows(report, out)
            ]
        ).to_markdown(index=False),
        "",
        "## Modes (mean ± sd over ok runs)",
        "",
        mode_table(report).to_markdown(),
        "",
        "## Runs",
        "",
        report.runs.drop(columns=["campaign", "problem"]).to_markdown(index=False, floatfmt=".4g"),
        "",
        "## Facts",
        "",
    ]
    lines += [f"- **{k}**: {v}" for k, v in facts(report)]
    lines += ["", "## Warnings", ""] + ([f"- {w}" for w in report.warnings] or ["- none"])
    return "\n".join(lines) + "\n"


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@dataclass(frozen=True)
class Plot:
    """One embedded plot: its anchor, its caption, the alt text a screen reader says, the PNG."""

    id: str
    title: str
    alt: str
    src: str


def forest_rows(report: Report) -> list[dict[str, Any]]:
    """gap.json's comparisons in plotting order: the primary metric first, then by metric and mode."""
    rows = [c.as_json() for c in report.comparisons]
    metrics = [report.primary_metric, *(m for m in METRICS if m != report.primary_metric)]
    order = {m: i for i, m in enumerate(metrics)}
    return sorted(rows, key=lambda r: (order.get(r["metric"], len(order)), r["mode"]))


def forest_figure(report: Report) -> Figure:
    """Every mode x metric gap against the baseline with its 95% CI (gap.json's numbers), the zero
    line, the A/A noise band per metric; filled = significant, hollow = not."""
    rows = forest_rows(report)
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.36 * max(len(rows), 1)))
    ys = list(range(len(rows)))[::-1]
    for y, row in zip(ys, rows, strict=True):
        floor = report.floor.get(row["metric"])
        if floor is not None and row["mode"] not in report.aa_modes:
            ax.fill_betweenx([y - 0.4, y + 0.4], -floor, floor, color="0.85", zorder=0)
        color = "C0" if row["role"] == "primary" else "C7"
        if row["ci95"]:
            ax.hlines(y, row["ci95"][0], row["ci95"][1], color=color, linewidth=2, zorder=2)
        ax.plot([row["gap_pct"]], [y], "o", color=color, markerfacecolor=color if row["significant"] else "white", markersize=7, zorder=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(ys, [f"{r['mode']} · {r['metric']}" + (" (primary)" if r["role"] == "primary" else "") for r in rows])
    ax.set(xlabel=f"gap vs {report.baseline}, % (positive = worse); 95% CI; filled = significant; grey = A/A noise")
    ax.grid(axis="x", color="0.9")
    return fig


def waterfall_figure(data: dict[str, Any]) -> Figure:
    """The ladder as a waterfall: each step's gap (its 95% CI as a whisker) stacked in log space
    from the first rung, and the whole beside it."""
    steps, total = data["steps"], data["total"]

    def log_pct(value: float) -> float:
        return float(np.log1p(value / 100.0) * 100.0)

    fig, ax = plt.subplots(figsize=(9, 3.4))
    level = 0.0
    for x, step in enumerate(steps):
        height = log_pct(step["gap_pct"])
        ax.bar(x, height, bottom=level, color="C3" if height > 0 else "C2", width=0.6)
        if step["ci95"]:
            ax.vlines(x, level + log_pct(step["ci95"][0]), level + log_pct(step["ci95"][1]), color="black", linewidth=1.2)
        level += height
    ax.bar(len(steps), log_pct(total["gap_pct"]), color="C0", width=0.6)
    if total["ci95"]:
        ax.vlines(len(steps), log_pct(total["ci95"][0]), log_pct(total["ci95"][1]), color="black", linewidth=1.2)
    ax.axhline(0, color="black", linewidth=0.8)
    labels = [f"{s['from']}\n-> {s['to']}" for s in steps] + [f"{total['from']}\n-> {total['to']}"]
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set(ylabel=f"{data['metric']}: log gap, % (95% CI)")
    ax.grid(axis="y", color="0.9")
    return fig


def ladder_table(data: dict[str, Any]) -> str:
    rows = [*data["steps"], data["total"] | {"what": "the whole", "share_of_total": 1.0}]
    return str(
        pd.DataFrame(
            [
                {
                    "step": f"{r['from']} -> {r['to']}",
                    "what it adds": r["what"],
                    "gap %": f"{r['gap_pct']:+.2f}",
                    "95% CI": f"{r['ci95'][0]:+.2f} – {r['ci95'][1]:+.2f}" if r["ci95"] else "–",
                    "share": f"{r['share_of_total']:.0%}" if r.get("share_of_total") is not None else "–",
                    "rounds": r["n_pairs"],
                    "pp per 1% slower": f"{r['speed_slope_pp_per_pct']:+.3f}" if r.get("speed_slope_pp_per_pct") is not None else "–",
                }
                for r in rows
            ]
        ).to_markdown(index=False)
    )


def paired_rounds_figure(report: Report) -> Figure:
    """Each round's gap on the primary metric, one line per mode, and each mode's overall gap (dashed)."""
    metric, baseline = report.primary_metric, report.baseline
    ok = report.runs[report.runs["status"] == "ok"]
    wide = ok.pivot_table(index="round", columns="mode", values=metric, aggfunc="mean")
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for i, c in enumerate(report.primary()):
        if baseline not in wide or c.mode not in wide:
            continue
        pairs = wide[[baseline, c.mode]].dropna()
        ax.plot(pairs.index, gap_pct(metric, pairs[baseline], pairs[c.mode]), marker="o", markersize=3, color=f"C{i}", label=c.mode)
        ax.axhline(c.gap_pct, color=f"C{i}", linestyle="--", linewidth=1)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(xlabel="round", ylabel=f"{metric} gap, %", title=f"Paired gap per round vs {baseline} (dashed: the campaign's estimate)")
    if ax.lines:
        ax.legend(fontsize="small")
    return fig


def cdf_points(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The latency CDF of one mode's histogram: upper bin edges (ms) and the share at or below each."""
    edges = np.asarray(HISTOGRAM_EDGES_MS)
    share = np.cumsum(counts) / counts.sum()
    return edges[1:], share


def quantile_ms(counts: np.ndarray, q: float) -> float:
    """The q-quantile of a histogram, interpolated on a log scale within its bin."""
    edges = np.log(np.asarray(HISTOGRAM_EDGES_MS))
    cum = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
    return float(np.exp(np.interp(q, cum, edges)))


def latency_figure(report: Report) -> Figure:
    """Latency CDFs per mode on an axis fitted to the data, p50/p95/p99 marked."""
    fig, ax = plt.subplots(figsize=(9, 3.4))
    found = {m: c for m, c in sorted(report.histograms.items()) if np.sum(c)}
    lows, highs = [], []
    for i, (mode, counts) in enumerate(found.items()):
        x, y = cdf_points(np.asarray(counts, dtype=float))
        ax.step(x, y, where="post", color=f"C{i}", label=mode)
        marks = [quantile_ms(np.asarray(counts, dtype=float), q) for q in (0.5, 0.95, 0.99)]
        ax.plot(marks, [0.5, 0.95, 0.99], "o", color=f"C{i}", markersize=4)
        lows.append(quantile_ms(np.asarray(counts, dtype=float), 0.001))
        highs.append(quantile_ms(np.asarray(counts, dtype=float), 0.999))
    if found:
        low, high = min(lows) / 1.2, max(highs) * 1.2
        if high / low > 20:
            ax.set_xscale("log")
        ax.set_xlim(low, high)
        ax.legend(fontsize="small")
    for q in (0.5, 0.95, 0.99):
        ax.axhline(q, color="0.8", linewidth=0.6)
    ax.set(xlabel="request duration, ms (measured windows)", ylabel="share of requests ≤ x", title="Latency CDF (dots: p50, p95, p99)")
    return fig


def series_figure(report: Report) -> Figure | None:
    """Requests/s and p95 per second within every concurrent round, one colour per mode, rounds
    overlaid, the warm-up shaded: a warm-up too short or a stalled round stands out. None
    without concurrent rounds (sequential runs keep no per-second data)."""
    rounds = [run for run in report.campaign.runs if run.problem is None and run.windows]
    if not rounds:
        return None
    modes = sorted({m for run in rounds for m in run.windows or {}})
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 4.6), sharex=True)
    warmups = []
    for run in rounds:
        for mode, window in (run.windows or {}).items():
            color = f"C{modes.index(mode)}"
            seconds = np.arange(len(window.per_second_requests)) + 0.5
            top.plot(seconds, window.per_second_requests, color=color, alpha=0.35, linewidth=0.8)
            p95 = np.array([np.nan if v is None else v for v in window.per_second_p95_ms], dtype=float)
            bottom.plot(np.arange(len(p95)) + 0.5, p95, color=color, alpha=0.35, linewidth=0.8)
            warmups.append(window.measure_from_s)
    for ax in (top, bottom):
        ax.axvspan(0, float(np.median(warmups)), color="0.9", zorder=0)
    for i, mode in enumerate(modes):
        top.plot([], [], color=f"C{i}", label=mode)
    top.legend(fontsize="small", ncol=len(modes))
    top.set(ylabel="requests/s", title=f"Within each of {len(rounds)} rounds (grey: warm-up)")
    bottom.set(ylabel="p95, ms", xlabel="seconds since the round's first request")
    return fig


def plots(report: Report) -> list[Plot]:
    metric = report.primary_metric
    primary = ", ".join(f"{c.mode} {c.gap_pct:+.2f}% ({c.ci95[0]:.2f} to {c.ci95[1]:.2f})" for c in report.primary() if c.ci95)
    latency = "; ".join(
        f"{mode} p50 {quantile_ms(np.asarray(c, dtype=float), 0.5):.3g} ms, p99 {quantile_ms(np.asarray(c, dtype=float), 0.99):.3g} ms"
        for mode, c in sorted(report.histograms.items())
        if np.sum(c)
    )
    found = [
        Plot(
            "forest",
            "Every gap against the baseline with its 95% CI",
            f"Forest plot of {len(report.comparisons)} gaps against {report.baseline}; primary metric {metric}: {primary or 'none'}",
            _png(forest_figure(report)),
        ),
        Plot(
            "rounds",
            f"Paired gap per round on {metric}",
            f"Per-round gap on {metric} for each mode against {report.baseline}, with the campaign's estimate dashed",
            _png(paired_rounds_figure(report)),
        ),
        Plot("latency", "Latency CDF per mode", f"Latency CDF per mode: {latency or 'no latency data'}", _png(latency_figure(report))),
    ]
    steps = report.ladder_json()
    if steps is not None:
        found.insert(
            1,
            Plot(
                "ladder",
                "Where the cost comes from: each step with its 95% CI",
                f"Waterfall of {len(steps['steps'])} steps from {steps['total']['from']} to {steps['total']['to']} "
                f"({steps['total']['gap_pct']:+.2f}% in all). Caveat: {steps['caveat']}",
                _png(waterfall_figure(steps)),
            ),
        )
    series = series_figure(report)
    if series is not None:
        found.append(
            Plot(
                "series",
                "Requests per second and p95 within each round",
                "Per-second requests and p95 latency of every mode in every round, the warm-up shaded",
                _png(series),
            )
        )
    return found


def health_rows(report: Report, out: Path | None) -> list[dict[str, Any]]:
    """One row per run: status, flags, CPU per request of each mode, why it was left out, its raw folder."""
    runs = report.runs
    rows = []
    for run in report.campaign.runs:
        mine = runs[runs["run"] == run.name]
        flags = report.flags.get(run.name, [])
        cpu = {r.mode: r.cpu_us_per_request for r in mine.itertuples() if pd.notna(r.cpu_us_per_request)}
        rows.append(
            {
                "run": run.name,
                "status": "ok" if run.problem is None else "left out",
                "flags": flags,
                "cpu": ", ".join(f"{m} {v:.1f}" for m, v in cpu.items()) or "–",
                "problem": run.problem or "",
                "href": _link(run.path, out),
                "dashboard": _link(run.path / "dashboard.html", out) if (run.path / "dashboard.html").exists() else "",
            }
        )
    return rows


def _link(path: Path, out: Path | None) -> str:
    return Path(os.path.relpath(path, out)).as_posix() if out else path.resolve().as_uri()


def html(report: Report, out: Path | None = None) -> str:
    """The report page; `out` (where it is written) makes the links to the raw run folders relative."""
    env = Environment(loader=PackageLoader("analysis", "templates"), autoescape=select_autoescape(["html"]))
    return env.get_template("report.html.j2").render(
        report=report,
        headlines=report.headlines(),
        gaps=gap_table(report).to_html(index=False, float_format="%.4g", border=0),
        modes=mode_table(report).to_html(border=0),
        runs=report.runs.drop(columns=["campaign"]).to_html(index=False, float_format="%.4g", border=0, na_rep="–"),
        facts=facts(report),
        plots=plots(report),
        health=health_rows(report, out),
    )


def fleet_plot(data: dict[str, Any]) -> str:
    rows = [r for r in data["per_host"] if r["metric"] == data["primary_metric"]]
    pooled = [p for p in data["pooled"] if p["metric"] == data["primary_metric"]]
    labels = [f"{r['target']} {r['mode']}" for r in rows] + [f"fleet {p['mode']}" for p in pooled]
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.45 * max(len(labels), 1)))
    points = [(r["gap_pct"], r["ci95"]) for r in rows] + [(p["gap_pct"], p["ci95"]) for p in pooled]
    for i, (gap, ci) in enumerate(points):
        lo, hi = ci if ci else (gap, gap)
        ax.errorbar(gap, i, xerr=[[max(gap - lo, 0)], [max(hi - gap, 0)]], fmt="o", capsize=4, color="C1" if i >= len(rows) else "C0")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel=f"{data['primary_metric']} gap vs {data['baseline']}, % (positive = worse), 95% CI")
    return _png(fig)


def fleet_html(data: dict[str, Any]) -> str:
    env = Environment(loader=PackageLoader("analysis", "templates"), autoescape=select_autoescape(["html"]))
    per_host = pd.DataFrame(data["per_host"], columns=data["columns"])
    per_host["ci95"] = per_host["ci95"].map(lambda ci: f"{ci[0]:.2f} – {ci[1]:.2f}" if ci else "–")
    pooled = pd.DataFrame(data["pooled"])
    if not pooled.empty:
        pooled["ci95"] = pooled["ci95"].map(lambda ci: f"{ci[0]:.2f} – {ci[1]:.2f}" if ci else "–")
    return env.get_template("fleet.html.j2").render(
        data=data,
        headlines=data["headlines"],
        pooled=pooled.to_html(index=False, float_format="%.4g", border=0, na_rep="–"),
        per_host=per_host.to_html(index=False, float_format="%.4g", border=0, na_rep="–"),
        plot=fleet_plot(data),
    )
