"""Report a campaign: the gap between each mode and native, its 95% CI, and a verdict.

usage: python -m analysis.report CAMPAIGN_DIR [-o OUT_DIR]

CAMPAIGN_DIR is results/<id>/, holding one folder per target (<target>/manifest.json and
<target>/runs/*/{run.json,k6.json.gz}), or one target's folder. A run measured by several
load generators has one k6.segN.json.gz per execution segment; its points are merged into
one run (requests summed, latencies pooled). Only k6 points tagged phase=measure of runs
whose status is ok count. Per target: runs.csv, gap.json, report.md and report.html in
<target>/report/ (OUT_DIR/<target>/ with -o); for the campaign: fleet.json, fleet.md,
runs.csv and report.html (gap per host, pooled across hosts) in CAMPAIGN_DIR/report/ (or
OUT_DIR). Prints the headlines. Exit 0 when a report was written (warnings included), 2
when the input cannot be read (the message names the file and line). Nothing in the
campaign folder is modified but the report folders.
"""

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analysis import fleet, render
from analysis.load import CampaignError, target_folders
from analysis.model import Report, build

RUN_COLUMNS = [
    "campaign",
    "run",
    "mode",
    "round",
    "order",
    "status",
    "requests",
    "throughput_rps",
    "latency_gmean_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "error_rate",
    "service_cpu_s",
    "k6_cpu_s",
    "cpu_s_per_request",
    "cpu_us_per_request",
    "service_core_busy",
    "position",
    "busy_us_per_request",
    "extra_share_pct",
]


class OutputError(Exception):
    """A report file that could not be written; the message names it."""


def publish(out: Path, files: dict[str, Callable[[], str]]) -> None:
    """Write each file whole or not at all: to a temporary file beside it, then os.replace (0640)."""
    try:
        out.mkdir(parents=True, exist_ok=True, mode=0o750)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the report folder: {exc.strerror or exc}") from exc
    for name, content in files.items():
        target = out / name
        try:
            handle, temporary = tempfile.mkstemp(dir=out, prefix=f".{name}.")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    stream.write(content())
                os.chmod(temporary, 0o640)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from exc


def publish_json(path: Path, data: Any, prog: str) -> bool:
    """`data` as JSON in `path`, whole or not at all; False, the reason on stderr as `prog: ...`, when it cannot."""
    try:
        publish(path.parent, {path.name: lambda: json.dumps(data, indent=2, allow_nan=False) + "\n"})
    except OutputError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return False
    return True


def write(report: Report, out: Path) -> None:
    publish(
        out,
        {
            "runs.csv": lambda: report.runs[RUN_COLUMNS].to_csv(index=False, float_format="%.6g"),
            "gap.json": lambda: json.dumps(report.gap_json(), indent=2) + "\n",
            "report.md": lambda: render.markdown(report, out),
            "report.html": lambda: render.html(report, out),
        },
    )


def write_fleet(
    reports: dict[str, Report], out: Path, pages: dict[str, Path] | None = None, left_out: dict[str, str] | None = None
) -> dict[str, Any]:
    """fleet.json, fleet.md, runs.csv (every target's runs) and report.html into `out`; `pages`:
    each target's report folder (linked relative to `out`), `left_out`: targets without a report, and why."""
    data = fleet.summary(reports)
    data["links"] = {t: Path(os.path.relpath(folder / "report.html", out)).as_posix() for t, folder in (pages or {}).items()}
    data["left_out"] = left_out or {}
    publish(
        out,
        {
            "fleet.json": lambda: json.dumps(data, indent=2) + "\n",
            "fleet.md": lambda: fleet.markdown(data),
            "runs.csv": lambda: fleet.all_runs(reports).to_csv(index=False, float_format="%.6g"),
            "report.html": lambda: render.fleet_html(data),
        },
    )
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("campaign", type=Path, help="results/<campaign_id>")
    parser.add_argument("-o", "--out", type=Path, help="output folder (default CAMPAIGN/report)")
    args = parser.parse_args(argv)
    try:
        targets = target_folders(args.campaign)
    except CampaignError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    if targets == [args.campaign]:
        return _report_target(args.campaign, args.out or args.campaign / "report", prefix="")
    reports: dict[str, Report] = {}
    left_out: dict[str, str] = {}
    for folder in targets:
        try:
            reports[folder.name] = build(folder)
        except CampaignError as exc:
            # One unreadable target fails its own report only; the others and the fleet go on.
            print(f"report: {exc}", file=sys.stderr)
            left_out[folder.name] = str(exc)
    if not reports:
        return 2
    pages = {name: (args.out / name) if args.out else args.campaign / name / "report" for name in reports}
    for name, report in reports.items():
        try:
            _print(report, pages[name], prefix=f"[{name}] ")
        except OutputError as exc:
            print(f"report: {exc}", file=sys.stderr)
            return 2
    out = args.out or args.campaign / "report"
    try:
        data = write_fleet(reports, out, pages, left_out)
    except OutputError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    for line in data["headlines"]:
        print(line)
    for name, why in left_out.items():
        print(f"fleet: target {name} left out: {why}")
    print(f"fleet report: {out / 'report.html'}")
    return 0


def _report_target(folder: Path, out: Path, prefix: str) -> int:
    try:
        report = build(folder)
    except CampaignError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    try:
        _print(report, out, prefix)
    except OutputError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    return 0


def _print(report: Report, out: Path, prefix: str) -> None:
    write(report, out)
    for line in report.headlines() or ["no comparison: the campaign has no mode besides the baseline"]:
        print(f"{prefix}{line}")
    for note in report.warnings:
        print(f"{prefix}warning: {note}")
    print(f"{prefix}report: {out / 'report.html'}")


if __name__ == "__main__":
    sys.exit(main())
