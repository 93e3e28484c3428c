"""Fixtures: a real nx-27017 server for the session, and the app's settings pointed at it."""

import os
from collections.abc import Iterator

import pytest
from pymongo import MongoClient

from embedded_mongo import TEST_COUNT, TEST_SEED, EmbeddedMongo
from labdata.generate import companies
from labdata.load import load


@pytest.fixture(scope="session")
def mongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedMongo]:
    server = EmbeddedMongo(tmp_path_factory.mktemp("nx"))
    server.start()
    with MongoClient(server.uri) as client:
        load(client, "sample_training", "companies", list(companies(TEST_COUNT, TEST_SEED)))
    yield server
    server.stop()


@pytest.fixture
def lab_env(mongo: EmbeddedMongo, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the app's settings at the test server; the settings cache is cleared around it."""
    from app.config import get_settings

    for key in [k for k in os.environ if k.startswith("LAB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("LAB_MONGODB_URI", mongo.uri)
    monkeypatch.setenv("LAB_SERVER_SELECTION_TIMEOUT_MS", "800")
    monkeypatch.setenv("LAB_STARTUP_DB_WAIT_S", "2")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
