"""FastAPI app: `/records` (the article's query) and `/health` (a database ping)."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError

from app.busy import Counters
from app.config import Settings, get_settings
from app.db import Database, Db, make_client
from app.models import CompaniesSchema, Health, Problem, Stats

log = logging.getLogger("app")


async def wait_for_db(settings: Settings) -> None:
    """Ping until the database answers or `startup_db_wait_s` passes; never forever."""
    deadline = time.monotonic() + settings.startup_db_wait_s
    client = make_client(settings)
    try:
        while True:
            try:
                await client.admin.command("ping")
                return
            except PyMongoError as exc:
                if time.monotonic() >= deadline:
                    # Start anyway: /health says 503 until the database is back.
                    log.warning("database not reachable after %ss: %s", settings.startup_db_wait_s, exc)
                    return
                await asyncio.sleep(0.2)
    finally:
        client.close()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    app.state.settings = settings
    await wait_for_db(settings)
    app.state.client = make_client(settings) if settings.client_lifecycle == "shared" else None
    app.state.counters = Counters()
    # records_source=memory: filled by the first request that reaches the database.
    app.state.records = None
    app.state.records_lock = asyncio.Lock()
    try:
        yield
    finally:
        if app.state.client is not None:
            app.state.client.close()


app = FastAPI(title="container-cost-lab service", lifespan=lifespan)


@app.exception_handler(PyMongoError)
async def database_unavailable(request: Request, exc: PyMongoError) -> JSONResponse:
    problem = Problem(status="unavailable", reason=f"database: {type(exc).__name__}")
    return JSONResponse(status_code=503, content=problem.model_dump())


async def query(db: Database, settings: Settings) -> list[dict[str, object]]:
    """The article's query: the first `limit` documents of the collection."""
    cursor = db.get_collection(settings.collection).find().limit(settings.limit)
    return await cursor.to_list(length=settings.limit)


async def remembered(db: Database, request: Request, settings: Settings) -> list[dict[str, object]]:
    """The query's documents, fetched once (records_source=memory)."""
    state = request.app.state
    if state.records is None:
        async with state.records_lock:
            if state.records is None:
                state.records = await query(db, settings)
    records: list[dict[str, object]] = state.records
    return records


@app.get("/records", response_model=list[CompaniesSchema])
async def get_records(db: Db, request: Request) -> list[dict[str, object]]:
    settings: Settings = request.app.state.settings
    request.app.state.counters.record(settings.busy_loops)
    if settings.records_source == "memory":
        return await remembered(db, request, settings)
    return await query(db, settings)


@app.get("/stats", response_model=Stats)
async def stats(request: Request) -> Stats:
    """What this process has served, and the CPU time of its injected busy work (sampled)."""
    settings: Settings = request.app.state.settings
    counters: Counters = request.app.state.counters
    return Stats(
        records_source=settings.records_source,
        busy_loops=settings.busy_loops,
        requests=counters.requests,
        busy_sampled_calls=counters.busy_sampled_calls,
        busy_sampled_ns=counters.busy_sampled_ns,
    )


@app.get("/health", response_model=Health, responses={503: {"model": Problem}})
async def health(db: Db, request: Request) -> Health:
    settings: Settings = request.app.state.settings
    await db.command("ping")
    return Health(status="ok", database=settings.database, client_lifecycle=settings.client_lifecycle)
