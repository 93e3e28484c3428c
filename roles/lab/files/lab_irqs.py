#!/usr/bin/python3
"""Steer device interrupts away from the service core for the measure phase, and put them back.

usage: lab_irqs.py steer CPULIST SAVED
       lab_irqs.py restore SAVED
       lab_irqs.py kernel

On these machines the virtio block and network interrupts land on the service core, and the
kernel (without CONFIG_IRQ_TIME_ACCOUNTING) charges their time to whichever mode's task they
interrupt. `steer` writes CPULIST into every /proc/irq/N/smp_affinity_list it may (managed
interrupts refuse: they are listed, not an error), after keeping each one's value in SAVED; an
earlier SAVED that was never restored is kept as it is (its values are the host's own, as the
ASLR setting's). `restore` writes SAVED's values back and removes it (nothing to do without it).
Both print one JSON object: what moved, what refused and why. `kernel` prints whether the
running kernel accounts interrupt time apart from tasks (CONFIG_IRQ_TIME_ACCOUNTING: true, false,
or null when its config cannot be read) and where that was read.
"""

import gzip
import json
import os
import sys
from pathlib import Path

IRQ_ROOT = Path("/proc/irq")


def affinities(root: Path = IRQ_ROOT) -> dict[str, str]:
    """Every numbered interrupt's CPU list now."""
    found = {}
    for entry in sorted(root.iterdir(), key=lambda p: (len(p.name), p.name)):
        target = entry / "smp_affinity_list"
        if entry.name.isdigit() and target.exists():
            found[entry.name] = target.read_text().strip()
    return found


def write_all(values: dict[str, str], root: Path = IRQ_ROOT) -> tuple[list[str], dict[str, str]]:
    done, refused = [], {}
    for irq, cpus in values.items():
        try:
            (root / irq / "smp_affinity_list").write_text(cpus)
        except OSError as exc:
            refused[irq] = exc.strerror or str(exc)
        else:
            done.append(irq)
    return done, refused


def steer(cpus: str, saved: Path, root: Path = IRQ_ROOT) -> dict[str, object]:
    now = affinities(root)
    if not saved.exists():
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(now, sort_keys=True) + "\n")
    moved, refused = write_all({irq: cpus for irq, was in now.items() if was != cpus}, root)
    return {"steered_to": cpus, "steered": moved, "refused": refused, "saved": str(saved)}


def restore(saved: Path, root: Path = IRQ_ROOT) -> dict[str, object]:
    if not saved.exists():
        return {"restored": [], "refused": {}}
    values = json.loads(saved.read_text())
    back, refused = write_all({irq: cpus for irq, cpus in values.items() if (root / irq).exists()}, root)
    saved.unlink()
    return {"restored": back, "refused": refused}


def kernel_option(name: str = "CONFIG_IRQ_TIME_ACCOUNTING", places: tuple[Path, ...] = ()) -> dict[str, object]:
    """Whether the running kernel was built with `name` (=y), from /proc/config.gz or /boot/config-<release>."""
    for place in places or (Path("/proc/config.gz"), Path(f"/boot/config-{os.uname().release}")):
        try:
            raw = gzip.decompress(place.read_bytes()) if place.suffix == ".gz" else place.read_bytes()
        except OSError:
            continue
        lines = raw.decode("utf-8", "replace").splitlines()
        return {"irq_time_accounting": f"{name}=y" in lines, "kernel_config": str(place)}
    return {"irq_time_accounting": None, "kernel_config": None}


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[1] == "steer":
        result = steer(argv[2], Path(argv[3]))
    elif len(argv) == 3 and argv[1] == "restore":
        result = restore(Path(argv[2]))
    elif len(argv) == 2 and argv[1] == "kernel":
        result = kernel_option()
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
