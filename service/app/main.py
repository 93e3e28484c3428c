"""FastAPI app: `/records` (the article's query) and `/health` (a database ping)."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError

from app.config import Settings, get_settings
from app.db import Db, make_client
from app.models import CompaniesSchema, Health, Problem

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


@app.get("/records", response_model=list[CompaniesSchema])
async def get_records(db: Db, request: Request) -> list[dict[str, object]]:
    settings: Settings = request.app.state.settings
    cursor = db.get_collection(settings.collection).find().limit(settings.limit)
    return await cursor.to_list(length=settings.limit)


@app.get("/health", response_model=Health, responses={503: {"model": Problem}})
async def health(db: Db, request: Request) -> Health:
    settings: Settings = request.app.state.settings
    await db.command("ping")
    return Health(status="ok", database=settings.database, client_lifecycle=settings.client_lifecycle)
