"""Settings, read once from `LAB_*` environment variables; bad values stop the start-up."""

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything that may differ between deployments is here, and nothing else does."""

    model_config = SettingsConfigDict(env_prefix="LAB_", extra="forbid")

    # Database options.
    mongodb_uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    database: str = "sample_training"
    collection: str = "companies"
    limit: int = Field(100, ge=1, le=10_000)
    # "per_request" is the article's code: a new client per request, closed after it.
    # "shared" is what a production service does: one client for the app's lifetime.
    client_lifecycle: Literal["per_request", "shared"] = "shared"
    server_selection_timeout_ms: int = Field(3_000, ge=100, le=60_000)
    startup_db_wait_s: float = Field(10.0, ge=0, le=300)
    # "database" runs the query on every request (the article). "memory" runs it once, through
    # the same client factory and query, and answers every request from those documents, still
    # validated by the response model and serialised: the service, not the database, is measured.
    records_source: Literal["database", "memory"] = "database"

    # Control options: a known cost injected into every /records request (default none).
    # busy_loops iterations of a fixed pure-Python loop: fixed work, so its share of a request
    # does not change when the CPU's speed drifts. Its CPU time is sampled and shown by /stats.
    busy_loops: int = Field(0, ge=0, le=10_000_000)

    # Uvicorn options: identical in every mode.
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65_535)
    workers: int = Field(1, ge=1, le=64)
    loop: Literal["asyncio", "uvloop"] = "uvloop"
    http: Literal["h11", "httptools"] = "httptools"
    access_log: bool = False


@lru_cache
def get_settings() -> Settings:
    return Settings()
