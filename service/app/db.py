"""The one place a MongoDB client is made, and the `get_db` dependency built on it."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase

from app.config import Settings

# motor reached end of life; pymongo's own async client is its successor. Swapping is
# this import and the alias below: `from pymongo import AsyncMongoClient as Client`.
Client = AsyncIOMotorClient
Database = AsyncIOMotorDatabase[dict[str, Any]]


def make_client(settings: Settings) -> Client[dict[str, Any]]:
    return Client(
        settings.mongodb_uri,
        serverSelectionTimeoutMS=settings.server_selection_timeout_ms,
        appname="container-cost-lab",
    )


async def get_db(request: Request) -> AsyncIterator[Database]:
    settings: Settings = request.app.state.settings
    if settings.client_lifecycle == "shared":
        yield request.app.state.client[settings.database]
        return
    client = make_client(settings)
    try:
        yield client[settings.database]
    finally:
        client.close()


Db = Annotated[Database, Depends(get_db)]
