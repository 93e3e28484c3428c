"""Interrupts steered off the service core for the measure phase and put back, as ASLR is."""

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture
def lab_irqs(lab_file: Callable[[str], ModuleType]) -> ModuleType:
    return lab_file("files/lab_irqs.py")


def fake_irqs(root: Path) -> Path:
    """IRQ 36 (block) and 38 (net) on CPU 1, 39 on CPU 0; 40 managed: its file cannot be written."""
    for irq, cpus in {"36": "1", "38": "1", "39": "0"}.items():
        (root / irq).mkdir(parents=True)
        (root / irq / "smp_affinity_list").write_text(cpus + "\n")
    (root / "40").mkdir(parents=True)
    (root / "40" / "smp_affinity_list").symlink_to("/proc/version")  # readable, refuses a write
    (root / "default_smp_affinity").write_text("3\n")
    return root


def now(root: Path) -> dict[str, str]:
    return {irq: (root / irq / "smp_affinity_list").read_text().strip() for irq in ("36", "38", "39")}


def test_steer_moves_every_interrupt_it_may_and_restore_puts_each_back(lab_irqs: ModuleType, tmp_path: Path) -> None:
    root, saved = fake_irqs(tmp_path / "irq"), tmp_path / "state" / "irqs.saved"
    result = lab_irqs.steer("0", saved, root)
    assert now(root) == {"36": "0", "38": "0", "39": "0"}
    assert result["steered"] == ["36", "38"] and list(result["refused"]) == ["40"]
    assert json.loads(saved.read_text())["36"] == "1"
    back = lab_irqs.restore(saved, root)
    assert now(root) == {"36": "1", "38": "1", "39": "0"} and not saved.exists()
    assert sorted(back["restored"]) == ["36", "38", "39"]


def test_an_unrestored_copy_wins_and_restore_without_one_does_nothing(lab_irqs: ModuleType, tmp_path: Path) -> None:
    """A campaign killed before restoring: the next campaign keeps the host's own values."""
    root, saved = fake_irqs(tmp_path / "irq"), tmp_path / "irqs.saved"
    lab_irqs.steer("0", saved, root)
    lab_irqs.steer("0", saved, root)
    assert json.loads(saved.read_text())["38"] == "1", "the second steer must not save the steered values"
    lab_irqs.restore(saved, root)
    assert now(root)["38"] == "1"
    assert lab_irqs.restore(saved, root) == {"restored": [], "refused": {}}


def test_bad_arguments_print_the_usage(lab_irqs: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert lab_irqs.main(["lab_irqs.py", "steer"]) == 2
    assert "usage: lab_irqs.py steer CPULIST SAVED" in capsys.readouterr().err


def test_the_kernels_interrupt_time_accounting_is_read_from_its_config(lab_irqs: ModuleType, tmp_path: Path) -> None:
    import gzip

    built = tmp_path / "config.gz"
    built.write_bytes(gzip.compress(b"CONFIG_HZ=250\nCONFIG_IRQ_TIME_ACCOUNTING=y\n"))
    plain = tmp_path / "config-6.1"
    plain.write_text("# CONFIG_IRQ_TIME_ACCOUNTING is not set\n")
    assert lab_irqs.kernel_option(places=(built,)) == {"irq_time_accounting": True, "kernel_config": str(built)}
    assert lab_irqs.kernel_option(places=(tmp_path / "missing.gz", plain))["irq_time_accounting"] is False
    assert lab_irqs.kernel_option(places=(tmp_path / "missing",)) == {"irq_time_accounting": None, "kernel_config": None}
