"""Markdown and self-contained HTML for a report (plots embedded as PNG data URIs)."""

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.load import HISTOGRAM_EDGES_MS  # noqa: E402
from analysis.model import Report  # noqa: E402

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
        return pd.DataFrame(columns=["mode", "metric", "baseline_value", "value", "gap_pct", "ci95", "p_value", "n_pairs", "significant"])
    frame = pd.DataFrame(rows)
    frame["ci95"] = frame["ci95"].map(lambda ci: f"{ci[0]:.2f} – {ci[1]:.2f}" if ci else "–")
    return frame


def mode_table(report: Report) -> pd.DataFrame:
    ok = report.runs[report.runs["status"] == "ok"]
    metrics = ["throughput_rps", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate", "cpu_us_per_request"]
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


def markdown(report: Report) -> str:
    lines = [f"# Campaign {report.campaign_id}", "", "## Verdict", ""]
    lines += [f"- {h}" for h in report.headlines()] or ["- no mode to compare with the baseline"]
    if report.floor:
        lines += ["", "Noise floor (A/A, native_b vs native): " + ", ".join(f"{k} {v:.2f}%" for k, v in report.floor.items())]
    lines += [
        "",
        "## Gap against native (positive = worse)",
        "",
        gap_table(report).to_markdown(index=False, floatfmt=".4g"),
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


def plots(report: Report) -> list[tuple[str, str]]:
    ok = report.runs[report.runs["status"] == "ok"]
    figures = []
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for mode, group in ok.groupby("mode"):
        ax.plot(group["round"], group["throughput_rps"], marker="o", label=mode)
    ax.set(xlabel="round", ylabel="requests/s", title="Throughput per round (drift shows here)")
    ax.legend()
    figures.append(("Throughput per round and mode", _png(fig)))

    fig, ax = plt.subplots(figsize=(7, 3.2))
    centres = (HISTOGRAM_EDGES_MS[:-1] * HISTOGRAM_EDGES_MS[1:]) ** 0.5
    for mode, counts in sorted(report.histograms.items()):
        if counts.sum():
            ax.plot(centres, counts / counts.sum(), label=mode)
    ax.set(xscale="log", xlabel="request duration (ms)", ylabel="share of requests", title="Latency distribution (measured windows)")
    ax.legend()
    figures.append(("Latency distribution per mode", _png(fig)))

    metric = report.primary_metric
    gaps = report.primary()
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.6 * max(len(gaps), 1)))
    for i, c in enumerate(gaps):
        lo, hi = c.ci95 if c.ci95 else (c.gap_pct, c.gap_pct)
        ax.errorbar(c.gap_pct, i, xerr=[[max(c.gap_pct - lo, 0)], [max(hi - c.gap_pct, 0)]], fmt="o", capsize=4)
    if metric in report.floor:
        ax.axvspan(-report.floor[metric], report.floor[metric], color="grey", alpha=0.2, label="A/A noise floor")
        ax.legend()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(gaps)), [c.mode for c in gaps])
    ax.set(xlabel=f"{metric} gap vs {report.baseline}, % (positive = worse), 95% CI", title="Gap with its confidence interval")
    figures.append((f"{metric} gap with 95% CI", _png(fig)))
    return figures


def html(report: Report) -> str:
    env = Environment(loader=PackageLoader("analysis", "templates"), autoescape=select_autoescape(["html"]))
    return env.get_template("report.html.j2").render(
        report=report,
        headlines=report.headlines(),
        gaps=gap_table(report).to_html(index=False, float_format="%.4g", border=0),
        modes=mode_table(report).to_html(border=0),
        runs=report.runs.drop(columns=["campaign"]).to_html(index=False, float_format="%.4g", border=0, na_rep="–"),
        facts=facts(report),
        plots=plots(report),
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
