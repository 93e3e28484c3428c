"""Load the companies collection: generated, or from a user's `mongoexport` file.

A load is idempotent: the collection's count and a sha256 over the canonical Extended
JSON of its documents are kept in the `_lab_datasets` collection; when both match, the
load changes nothing. Otherwise the collection is replaced.
"""

import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any

from bson import json_util
from pymongo import MongoClient

META_COLLECTION = "_lab_datasets"
BATCH = 500


class DatasetError(ValueError):
    """Input the loader cannot use; the message names the file and line."""


@dataclass(frozen=True)
class Result:
    changed: bool
    count: int
    sha256: str


def checksum(documents: Iterable[dict[str, Any]]) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    for document in documents:
        digest.update(json_util.dumps(document, json_options=json_util.CANONICAL_JSON_OPTIONS, sort_keys=True).encode())
        digest.update(b"\n")
        count += 1
    return count, digest.hexdigest()


def _open(path: Path) -> IO[str]:
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def read_export(path: Path) -> list[dict[str, Any]]:
    """Read Extended JSON: one document a line (mongoexport's default) or a JSON array."""
    try:
        with _open(path) as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from exc
    if text.lstrip().startswith("["):
        try:
            documents = json_util.loads(text)
        except ValueError as exc:
            raise DatasetError(f"{path}: not a valid JSON array: {exc}") from exc
        if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
            raise DatasetError(f"{path}: a JSON array of documents was expected")
        return documents
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json_util.loads(line)
        except ValueError as exc:
            raise DatasetError(f"{path}:{number}: not a valid Extended JSON document: {exc}") from exc
        if not isinstance(document, dict):
            raise DatasetError(f"{path}:{number}: a JSON object was expected, got {type(document).__name__}")
        documents.append(document)
    if not documents:
        raise DatasetError(f"{path}: no documents")
    return documents


def _batches(documents: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(documents)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def load(client: MongoClient[dict[str, Any]], database: str, collection: str, documents: list[dict[str, Any]]) -> Result:
    count, sha = checksum(documents)
    db = client[database]
    recorded = db[META_COLLECTION].find_one({"_id": collection}) or {}
    if recorded.get("sha256") == sha and recorded.get("count") == count == db[collection].estimated_document_count():
        return Result(changed=False, count=count, sha256=sha)
    db[collection].drop()
    for batch in _batches(documents):
        db[collection].insert_many(batch, ordered=True)
    db[META_COLLECTION].replace_one({"_id": collection}, {"_id": collection, "count": count, "sha256": sha}, upsert=True)
    return Result(changed=True, count=count, sha256=sha)


def result_json(result: Result) -> str:
    return json.dumps({"changed": result.changed, "count": result.count, "sha256": result.sha256})
