"""Every role's argument spec lists exactly its defaults, with the same default values."""

from pathlib import Path

import pytest
import yaml

from labrun import ROOT

pytestmark = pytest.mark.side

ROLES = sorted(p.parent.parent for p in ROOT.glob("roles/*/meta/argument_specs.yml"))


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_spec_equals_defaults(role: Path) -> None:
    spec = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text()) or {}
    optional = sorted(name for name, option in spec.items() if not option.get("required"))
    assert optional == sorted(defaults), f"{role.name}: spec (optional inputs) and defaults list different variables"
    for name, value in defaults.items():
        assert spec[name].get("default") == value, (
            f"{role.name}: {name} defaults to {value!r} but the spec says {spec[name].get('default')!r}"
        )
        assert name.startswith(role.name + "_"), f"{role.name}: input {name} is not named {role.name}_*"


def test_every_role_has_the_skeleton() -> None:
    for role in (p for p in ROOT.glob("roles/*") if p.is_dir()):
        for part in ("meta/main.yml", "tasks/main.yml", "README.md"):
            assert (role / part).exists(), f"{role.name} has no {part}"
        if (role / "defaults/main.yml").exists():
            assert (role / "tasks/preflight.yml").exists(), f"{role.name} has inputs but no preflight"
