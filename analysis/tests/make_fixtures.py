"""Write the golden campaigns under data/ (run once; the files are committed).

Each request is the lines k6 writes for it (http_reqs, http_req_duration, http_req_failed,
and some it also writes that the report must skip), tagged with phase warmup or measure.
"""

import gzip
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


def request_lines(mode: str, round_: int, phase: str, duration_ms: float, failed: int = 0) -> list[str]:
    tags = {
        "expected_response": "true",
        "method": "GET",
        "mode": mode,
        "phase": phase,
        "round": str(round_),
        "scenario": phase,
        "status": "200" if not failed else "503",
        "url": "http://127.0.0.1:8101/records",
    }

    def point(metric: str, value: float) -> str:
        body = {"metric": metric, "type": "Point", "data": {"time": "2026-11-27T17:00:00.000000000Z", "value": value, "tags": tags}}
        return json.dumps(body, separators=(",", ":"))

    return [
        point("http_reqs", 1),
        point("http_req_duration", duration_ms),
        point("http_req_blocked", 0.01),
        point("http_req_failed", failed),
        point("data_received", 148800),
    ]


def write_run(campaign: Path, name: str, meta: dict[str, Any], requests: list[tuple[str, float, int]], gz: bool = True) -> None:
    folder = campaign / "runs" / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        '{"type":"Metric","data":{"name":"http_reqs","type":"counter","contains":"default","thresholds":[],"submetrics":null},"metric":"http_reqs"}'
    ]
    for phase, duration, failed in requests:
        lines += request_lines(meta["mode"], meta["round"], phase, duration, failed)
    text = "\n".join(lines) + "\n"
    if gz:
        (folder / "k6.json.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        (folder / "k6.json").write_text(text)
    (folder / "summary.json").write_text("{}\n")
    (folder / "run.json").write_text(json.dumps(meta, indent=1) + "\n")


def manifest(campaign: Path, modes: list[str], run_order: list[str], measure_s: float, **extra: object) -> None:
    campaign.mkdir(parents=True, exist_ok=True)
    body = {
        "campaign_id": campaign.name,
        "profile": {"name": "fixture", "measure_s": measure_s},
        "modes": {
            m: {"kind": "native" if m.startswith("native") else "docker", "packages_sha256": "p1", "payload_sha256": "h1", "cpuset": "1"}
            for m in modes
        },
        "run_order": run_order,
        "seed": 1,
    } | extra
    (campaign / "manifest.json").write_text(json.dumps(body, indent=1) + "\n")


def meta(mode: str, round_: int, order: int, measure_s: float, status: str = "ok", **extra: object) -> dict[str, Any]:
    return {
        "mode": mode,
        "round": round_,
        "order": order,
        "status": status,
        "error": None if status == "ok" else "k6 exited 107",
        "measure_duration_s": measure_s,
        "warmup_duration_s": 1,
        "service_cpu_s": 1.0,
        "k6_cpu_s": 0.2,
    } | extra


def article() -> None:
    """The article's two runs: 162 and 158 requests at 5.096966 and 4.968316 req/s."""
    campaign = DATA / "article"
    manifest(campaign, ["native", "docker"], ["native 1", "docker 1"], 30)
    warmup = [("warmup", 900.0, 0)] * 4
    write_run(campaign, "001_native_r1", meta("native", 1, 1, 162 / 5.096966), warmup + [("measure", 907.8, 0)] * 162, gz=False)
    write_run(campaign, "002_docker_r1", meta("docker", 1, 2, 158 / 4.968316), warmup + [("measure", 960.4, 0)] * 158)


def small() -> None:
    """3 rounds of native, docker, native_b; docker r2 failed; native_b r3 missing; warm-up points."""
    campaign = DATA / "small"
    order = ["native 1", "docker 1", "native_b 1", "docker 2", "native 2", "native_b 2", "native_b 3", "native 3", "docker 3"]
    manifest(campaign, ["native", "docker", "native_b"], order, 1)
    plan = {
        ("native", 1): 10,
        ("docker", 1): 9,
        ("native_b", 1): 10,
        ("docker", 2): 0,
        ("native", 2): 12,
        ("native_b", 2): 12,
        ("native", 3): 11,
        ("docker", 3): 10,
    }
    number = 0
    for entry in order:
        mode, round_ = entry.split()[0], int(entry.split()[1])
        if (mode, round_) not in plan:
            continue
        number += 1
        count = plan[(mode, round_)]
        status = "failed" if count == 0 else "ok"
        durations = [("warmup", 1000.0, 0)] * 3 + [
            ("measure", 10.0 * (i + 1), 1 if (mode == "docker" and i == 0) else 0) for i in range(count)
        ]
        write_run(campaign, f"{number:03d}_{mode}_r{round_}", meta(mode, round_, number, 1, status), durations)


if __name__ == "__main__":
    article()
    small()
