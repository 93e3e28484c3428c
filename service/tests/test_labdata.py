"""The dataset: deterministic, sized like the article's, loaded idempotently, bad input named."""

import gzip
import json
from pathlib import Path

import pytest
from bson import json_util
from pymongo import MongoClient

from app.models import CompaniesSchema
from embedded_mongo import EmbeddedMongo
from labdata.__main__ import main
from labdata.generate import companies
from labdata.load import DatasetError, read_export


def test_generator_is_deterministic_and_seeded() -> None:
    assert list(companies(20, 1)) == list(companies(20, 1))
    assert list(companies(20, 1)) != list(companies(20, 2))


def test_hundred_records_weigh_what_the_article_received() -> None:
    records = [CompaniesSchema.model_validate(doc).model_dump(mode="json") for doc in companies(100)]
    size = len(json.dumps(records, separators=(",", ":")).encode())
    assert 140_000 <= size <= 160_000, size


def test_load_twice_changes_nothing_the_second_time(mongo: EmbeddedMongo, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--uri", mongo.uri, "--database", "idem", "--count", "50", "--seed", "3"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["changed"] is True and second["changed"] is False
    assert first["count"] == second["count"] == 50
    assert first["sha256"] == second["sha256"]
    with MongoClient(mongo.uri) as client:
        assert client.idem.companies.count_documents({}) == 50


def test_export_lines_array_and_gzip_load_the_same(mongo: EmbeddedMongo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = list(companies(5, 9))
    lines = tmp_path / "companies.json"
    lines.write_text("".join(json_util.dumps(d) + "\n" for d in docs))
    array = tmp_path / "companies-array.json"
    array.write_text(json_util.dumps(docs))
    packed = tmp_path / "companies.json.gz"
    packed.write_bytes(gzip.compress(lines.read_bytes()))
    assert read_export(lines) == read_export(array) == read_export(packed) == docs
    assert main(["--uri", mongo.uri, "--database", "export", "--file", str(lines)]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 5


def test_malformed_export_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "ok"}\n{"name": broken}\n')
    with pytest.raises(DatasetError, match=rf"{bad}:2: not a valid Extended JSON document"):
        read_export(bad)
    assert main(["--uri", "mongodb://127.0.0.1:9/?directConnection=true", "--file", str(bad)]) == 2
    assert f"{bad}:2:" in capsys.readouterr().err


def test_the_uri_can_come_from_the_environment_and_its_password_is_not_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LAB_MONGODB_URI", "mongodb://lab:s3cret@127.0.0.1:9/?directConnection=true")
    assert main(["--count", "1", "--timeout-ms", "200"]) == 1, "the database (from the environment) does not answer"
    err = capsys.readouterr().err
    assert "database at 127.0.0.1:9/?directConnection=true failed" in err and "s3cret" not in err
