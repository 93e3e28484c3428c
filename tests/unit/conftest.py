"""The lab role's filter plugins are importable as plain modules in these tests; its other
files (helpers it installs on hosts, its action plugin) load through the `lab_file` fixture."""

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROLE = Path(__file__).resolve().parents[2] / "roles" / "lab"
sys.path.insert(0, str(ROLE / "filter_plugins"))


def load(relative: str) -> ModuleType:
    """roles/lab/<relative> as a module of its own."""
    path = ROLE / relative
    spec = importlib.util.spec_from_file_location(f"{path.parent.name}_{path.stem}", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def lab_file() -> Callable[[str], ModuleType]:
    return load
