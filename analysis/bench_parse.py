"""Benchmark the report on a synthetic campaign: wall time against `zcat | wc -l`, and peak RSS.

usage: python -m analysis.bench_parse [--runs N] [--requests-per-run N] [--dir DIR]

Writes a campaign of N runs whose k6 NDJSON holds 13 lines per request (as k6 writes them),
then times `python -m analysis.report` on it next to `zcat runs/*/k6.json.gz | wc -l`, and
reads the report's peak RSS. Runs again with twice the runs to show memory does not grow
with the campaign. Goals: report time <= 3x zcat, peak RSS < 300 MB.
"""

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METRICS = (
    "http_reqs",
    "http_req_duration",
    "http_req_blocked",
    "http_req_connecting",
    "http_req_tls_handshaking",
    "http_req_sending",
    "http_req_waiting",
    "http_req_receiving",
    "http_req_failed",
    "data_sent",
    "data_received",
    "iteration_duration",
    "iterations",
)


def write_campaign(folder: Path, runs: int, requests: int) -> int:
    modes = ["native", "docker", "docker_host"]
    (folder / "runs").mkdir(parents=True)
    order = []
    lines = 0
    for index in range(runs):
        mode, round_ = modes[index % 3], index // 3 + 1
        order.append({"mode": mode, "round": round_})
        run = folder / "runs" / f"{index + 1:03d}_{mode}_r{round_}"
        run.mkdir()
        with gzip.open(run / "k6.json.gz", "wt", compresslevel=6) as out:
            for i in range(requests):
                phase = "warmup" if i < requests // 10 else "measure"
                tags = (
                    f'{{"expected_response":"true","method":"GET","mode":"{mode}","name":"http://127.0.0.1:8101/records",'
                    f'"phase":"{phase}","proto":"HTTP/1.1","round":"{round_}","scenario":"{phase}","status":"200",'
                    f'"url":"http://127.0.0.1:8101/records"}}'
                )
                stamp = f"2026-11-27T17:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}000000Z"
                for metric in METRICS:
                    value = (
                        1 if metric in ("http_reqs", "iterations") else (0 if metric == "http_req_failed" else 10 + (i * 7919 % 1000) / 100)
                    )
                    out.write(f'{{"metric":"{metric}","type":"Point","data":{{"time":"{stamp}","value":{value},"tags":{tags}}}}}\n')
                lines += len(METRICS)
        meta = {
            "mode": mode,
            "round": round_,
            "order": index + 1,
            "status": "ok",
            "measure_duration_s": 20,
            "warmup_duration_s": 5,
            "service_cpu_s": 10.0,
            "k6_cpu_s": 5.0,
        }
        (run / "run.json").write_text(json.dumps(meta))
    manifest = {
        "campaign_id": folder.name,
        "profile": {"name": "bench", "measure_s": 20},
        "modes": {m: {} for m in modes},
        "run_order": order,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return lines


def timed(argv: list[str] | str, shell: bool = False) -> tuple[float, int, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    result = subprocess.run(argv, shell=shell, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, peak_kb if peak_kb > before else before, result.stdout


def measure(base: Path, runs: int, requests: int) -> dict[str, float]:
    folder = base / f"bench-{runs}"
    lines = write_campaign(folder, runs, requests)
    zcat_s, _, counted = timed(f"zcat {folder}/runs/*/k6.json.gz | wc -l", shell=True)
    assert int(counted) == lines
    report_s, rss_kb, _ = timed([sys.executable, "-m", "analysis.report", str(folder)])
    return {"runs": runs, "lines": lines, "zcat_s": zcat_s, "report_s": report_s, "ratio": report_s / zcat_s, "peak_rss_mb": rss_kb / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--requests-per-run", type=int, default=26_000)
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for runs in (args.runs, args.runs * 2):
            r = measure(Path(tmp), runs, args.requests_per_run)
            print(
                f"{r['runs']:3d} runs, {r['lines']:>10,} lines: zcat|wc -l {r['zcat_s']:.2f} s, report {r['report_s']:.2f} s "
                f"({r['ratio']:.2f}x zcat), peak RSS {r['peak_rss_mb']:.0f} MB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
