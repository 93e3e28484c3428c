"""A real `nx-27017` server on a free loopback port, started and stopped by the tests."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError

TEST_COUNT = 300
TEST_SEED = 7


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nx_binary() -> str:
    found = shutil.which("nx-27017") or str(Path(sys.executable).with_name("nx-27017"))
    if not Path(found).exists():
        pytest.fail("nx-27017 is not installed in the test venv: run `make unit` (it installs the venv)")
    return found


class EmbeddedMongo:
    """One nx-27017 process; `stop()` and `start()` keep its port and data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 15.0) -> None:
        log = (self.data_dir / "nx.log").open("ab")
        argv = [
            nx_binary(),
            "--host",
            "127.0.0.1",
            "-p",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--log-file",
            str(self.data_dir / "nx-server.log"),
            "--pid-file",
            str(self.data_dir / "nx.pid"),
        ]
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        with MongoClient(self.uri, serverSelectionTimeoutMS=300) as client:
            while True:
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"nx-27017 did not answer on port {self.port}; see {self.data_dir}/nx.log") from None
                    time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
