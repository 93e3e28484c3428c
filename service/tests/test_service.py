"""The service against a real wire-compatible server: payload, health, outage, settings."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.models import CompaniesSchema
from embedded_mongo import TEST_COUNT, TEST_SEED, EmbeddedMongo
from labdata.generate import companies

SERVICE_DIR = Path(__file__).resolve().parents[1]


def expected_records() -> list[dict[str, object]]:
    first = list(companies(TEST_COUNT, TEST_SEED))[:100]
    return [CompaniesSchema.model_validate(doc).model_dump(mode="json") for doc in first]


@pytest.mark.parametrize("lifecycle", ["shared", "per_request"])
def test_records_are_the_first_hundred_loaded(lab_env: None, lifecycle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_CLIENT_LIFECYCLE", lifecycle)
    from app.main import app

    with TestClient(app) as client:
        response = client.get("/records")
        health = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert len(body) == 100
    assert body == expected_records()
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "sample_training", "client_lifecycle": lifecycle}


@pytest.mark.parametrize("lifecycle", ["shared", "per_request"])
def test_outage_answers_503_in_time_then_recovers(
    lab_env: None, mongo: EmbeddedMongo, lifecycle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_CLIENT_LIFECYCLE", lifecycle)
    from app.main import app

    with TestClient(app) as client:
        assert client.get("/records").status_code == 200
        mongo.stop()
        try:
            started = time.monotonic()
            records = client.get("/records")
            health = client.get("/health")
            elapsed = time.monotonic() - started
        finally:
            mongo.start()
        assert records.status_code == 503
        assert records.json()["status"] == "unavailable"
        assert records.json()["reason"] in {"database: ServerSelectionTimeoutError", "database: AutoReconnect"}
        assert health.status_code == 503
        assert elapsed < 2 * (0.8 + 1.0), f"503s took {elapsed:.1f}s with an 0.8 s server-selection timeout"
        assert client.get("/records").status_code == 200
        assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LAB_PORT", "70000"),
        ("LAB_CLIENT_LIFECYCLE", "sometimes"),
        ("LAB_LIMIT", "zero"),
        ("LAB_WORKERS", "0"),
        ("LAB_RECORDS_SOURCE", "disk"),
        ("LAB_BUSY_LOOPS", "-1"),
    ],
)
def test_bad_setting_stops_start_up_naming_it(variable: str, value: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")} | {variable: value}
    result = subprocess.run([sys.executable, "-m", "app"], cwd=SERVICE_DIR, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"invalid setting {variable}:" in result.stderr
    assert value in result.stderr


def test_memory_source_serves_the_same_bytes_and_survives_the_database(
    lab_env: None, mongo: EmbeddedMongo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.main import app

    with TestClient(app) as client:
        from_database = client.get("/records").content
    monkeypatch.setenv("LAB_RECORDS_SOURCE", "memory")
    from app.config import get_settings

    get_settings.cache_clear()
    with TestClient(app) as client:
        first = client.get("/records").content
        mongo.stop()
        try:
            # Fetched once: later requests no longer touch the database.
            later = client.get("/records").content
        finally:
            mongo.start()
        stats = client.get("/stats").json()
    assert first == from_database == later
    assert len(first) > 100_000
    assert stats["records_source"] == "memory" and stats["requests"] == 2


def test_busy_work_is_done_per_request_and_its_cpu_sampled(lab_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.busy import SAMPLE_EVERY
    from app.main import app

    monkeypatch.setenv("LAB_RECORDS_SOURCE", "memory")
    monkeypatch.setenv("LAB_BUSY_LOOPS", "20000")
    with TestClient(app) as client:
        for _ in range(2 * SAMPLE_EVERY):
            assert client.get("/records").status_code == 200
        stats = client.get("/stats").json()
    assert stats["busy_loops"] == 20000 and stats["requests"] == 2 * SAMPLE_EVERY
    assert stats["busy_sampled_calls"] == 2
    # 20,000 iterations take a few hundred microseconds of CPU on any machine the lab runs on.
    per_call_us = stats["busy_sampled_ns"] / stats["busy_sampled_calls"] / 1000
    assert 20 < per_call_us < 20_000


def test_no_busy_work_by_default(lab_env: None) -> None:
    from app.main import app

    with TestClient(app) as client:
        client.get("/records")
        stats = client.get("/stats").json()
    assert stats == {"records_source": "database", "busy_loops": 0, "requests": 1, "busy_sampled_calls": 0, "busy_sampled_ns": 0}
