"""The lab role's filter plugins are importable as plain modules in these tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "roles" / "lab" / "filter_plugins"))
