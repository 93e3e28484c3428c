"""Load the companies dataset into MongoDB (or any wire-compatible server).

usage: python -m labdata [--uri URI] [--database DB] [--collection C]
                         [--file EXPORT | --count N --seed S]

The URI comes from LAB_MONGODB_URI when --uri is not given: a password in it then stays out
of the process list (`ps` shows every argument).

Prints one JSON line: {"changed": bool, "count": N, "sha256": "..."}. Exit 2 on bad input.
"""

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from labdata.generate import DEFAULT_COUNT, DEFAULT_SEED, companies
from labdata.load import DatasetError, load, read_export, result_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labdata", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default=os.environ.get("LAB_MONGODB_URI") or "mongodb://127.0.0.1:27017/?directConnection=true")
    parser.add_argument("--database", default="sample_training")
    parser.add_argument("--collection", default="companies")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--file", type=Path, help="mongoexport Extended JSON (lines or array, .gz ok)")
    source.add_argument("--count", type=int, default=DEFAULT_COUNT, help="documents to generate")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--timeout-ms", type=int, default=10_000)
    args = parser.parse_args(argv)
    if args.file is None and args.count < 1:
        parser.error(f"--count must be at least 1, got {args.count}")
    try:
        documents = read_export(args.file) if args.file else list(companies(args.count, args.seed))
        client: MongoClient[dict[str, Any]]
        with MongoClient(args.uri, serverSelectionTimeoutMS=args.timeout_ms) as client:
            result = load(client, args.database, args.collection, documents)
    except DatasetError as exc:
        print(f"labdata: {exc}", file=sys.stderr)
        return 2
    except PyMongoError as exc:
        print(f"labdata: database at {args.uri.split('@')[-1]} failed: {exc}", file=sys.stderr)
        return 1
    print(result_json(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
