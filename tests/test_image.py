"""The image and the native venv, built from one wheelhouse, serve identical bytes from identical packages.

Needs what `make test` brings up first (`bench.yml -e lab_verify_only=true`): the images, the
native venv, and the lab's database on 127.0.0.1 and the Docker bridge gateway.
"""

import hashlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

LAB_ROOT = Path("/opt/container-cost-lab")
VENV_PYTHON = LAB_ROOT / "venvs/service/bin/python"
SOURCE = LAB_ROOT / "src/service"
IMAGE = "lab/service:latest"
DB_PORT = 27017


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ok(url: str, timeout_s: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            response = httpx.get(url, timeout=10)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer 200 within {timeout_s}s")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def engine() -> docker.DockerClient:
    client = docker.from_env()
    if not client.images.list(name=IMAGE) or not VENV_PYTHON.exists():
        pytest.fail(f"{IMAGE} or {VENV_PYTHON} missing: run `make verify` (make test does) first")
    return client


@pytest.fixture(scope="module")
def container(engine: docker.DockerClient) -> Iterator[tuple[int, object]]:
    port = free_port()
    box = engine.containers.run(
        IMAGE,
        detach=True,
        remove=True,
        ports={"8000/tcp": ("127.0.0.1", port)},
        extra_hosts={"host.docker.internal": "host-gateway"},
        environment={"LAB_MONGODB_URI": f"mongodb://host.docker.internal:{DB_PORT}/?directConnection=true"},
        read_only=True,
        tmpfs={"/tmp": ""},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
    )
    try:
        yield port, box
    finally:
        box.stop(timeout=5)


@pytest.fixture(scope="module")
def native() -> Iterator[int]:
    port = free_port()
    env = {"PATH": os.environ["PATH"], "LAB_PORT": str(port), "LAB_MONGODB_URI": f"mongodb://127.0.0.1:{DB_PORT}/?directConnection=true"}
    process = subprocess.Popen([str(VENV_PYTHON), "-m", "app"], cwd=SOURCE, env=env)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_container_and_native_bodies_are_byte_identical(container: tuple[int, object], native: int) -> None:
    boxed = wait_ok(f"http://127.0.0.1:{container[0]}/records")
    host = wait_ok(f"http://127.0.0.1:{native}/records")
    assert len(host.json()) == 100
    assert hashlib.sha256(boxed.content).hexdigest() == hashlib.sha256(host.content).hexdigest()


def test_container_and_native_have_identical_packages(container: tuple[int, object]) -> None:
    inside = container[1].exec_run(["python", "-m", "pip", "freeze", "--all"], stderr=False)  # type: ignore[attr-defined]
    outside = subprocess.run([str(VENV_PYTHON), "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True)
    assert inside.exit_code == 0
    assert inside.output.decode().split() == outside.stdout.split()
    assert "fastapi==" in outside.stdout


def test_container_runs_as_non_root_and_publishes_on_loopback_only(engine: docker.DockerClient, container: tuple[int, object]) -> None:
    box = engine.containers.get(container[1].id)  # type: ignore[attr-defined]
    assert box.exec_run(["id", "-u"]).output.decode().strip() == "10001"
    bindings = box.attrs["HostConfig"]["PortBindings"]["8000/tcp"]
    assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]
