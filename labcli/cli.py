"""lab: run the container-cost lab's campaigns and read their results.

  lab bench    run a campaign (bench.yml through ansible-runner) with live progress
  lab status   every campaign in the results folder: runs ok/failed/left, state, headline
  lab report   write a campaign's report (python -m analysis.report)
  lab compare  compare two campaigns (python -m analysis.compare)
  lab pool     pool campaigns of one profile run on different occasions (python -m analysis.occasions)
  lab verify   bring every mode up and check that they are equivalent; record no timings

  lab bench --occasions N --every DURATION   N campaigns spread in time, pooled (labcli/study.py)

`ansible-playbook bench.yml` stays the lab's entry point for Ansible users; `lab bench` runs
exactly that playbook with the same inventory and variables. A knob `lab bench` sets itself
(lab_campaign_id, lab_results_dir, lab_profile, lab_modes, lab_rounds) may be given with -e
instead of its option, and is honoured; given both ways with different values, it is refused
by name. Exit codes: 0 success;
ansible-playbook's own code when the playbook failed (the failing host, task and message are
printed, with the log and the resume command); 130 when interrupted (Ctrl-C, SIGTERM: the
targets are put back by playbooks/restore.yml); 2 for bad options.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labcli import bench, campaigns, study

PROJECT = Path(__file__).resolve().parents[1]


def _modes(value: str) -> list[str]:
    modes = [m.strip() for m in value.split(",") if m.strip()]
    if not modes:
        raise argparse.ArgumentTypeError(f"--modes {value!r}: give mode names separated by commas, e.g. native,docker")
    return modes


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--rounds {value!r}: a whole number of rounds, at least 1")
    return n


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", type=Path, default=PROJECT, help="the lab's folder, holding bench.yml (default %(default)s)")
    parser.add_argument("--results", type=Path, help="results folder (default PROJECT/results)")
    parser.add_argument("--inventory", "-i", type=Path, help="inventory (default PROJECT/inventory/hosts.yml)")


def _campaign_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", "-p", help="load profile from inventory/group_vars/all/profiles.yml (default: the inventory's lab_profile)"
    )
    parser.add_argument("--modes", "-m", type=_modes, help="modes to measure, comma separated (default: the profile's)")
    parser.add_argument("--rounds", "-r", type=_positive, help="rounds (the minimum, for a campaign that stops on precision)")
    parser.add_argument(
        "--extra-vars", "-e", action="append", default=[], metavar="VAR=VALUE", help="passed to ansible-playbook as -e (repeatable)"
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("bench", help="run a campaign with live progress", description="Run bench.yml through ansible-runner.")
    _common(b)
    _campaign_options(b)
    which = b.add_mutually_exclusive_group()
    which.add_argument(
        "--resume",
        metavar="ID",
        help="resume campaign ID: its runs are kept, the missing ones run; its profile, modes, rounds and -e values reused unless given",
    )
    which.add_argument("--campaign", metavar="ID", help="id of a new campaign (default: the UTC time)")
    b.add_argument("--plain", action="store_true", help="one line per finished run even on a terminal")
    b.add_argument("--occasions", type=_positive_count, metavar="N", help="a study: N campaigns spread in time, pooled at the end")
    b.add_argument("--every", metavar="DURATION", help="with --occasions: time between the campaigns' starts, e.g. 1h, 45m (default 1h)")
    b.add_argument("--study", metavar="ID", help="with --occasions: the study's id (default: the UTC time); the same id resumes it")

    v = sub.add_parser(
        "verify", help="bring every mode up and check equivalence; no timings", description="bench.yml -e lab_verify_only=true."
    )
    _common(v)
    _campaign_options(v)

    s = sub.add_parser("status", help="every campaign: runs ok/failed/left, state, headline", description=campaigns.__doc__)
    _common(s)

    # The analysis entry points: every argument (--help included) is theirs. No option prefix
    # (prefix_chars), so argparse hands all of them to `args` untouched.
    for name, what in (
        ("report", "write a campaign's report (lab report --help: the options of python -m analysis.report)"),
        ("compare", "compare two campaigns (lab compare --help: the options of python -m analysis.compare)"),
        ("pool", "pool campaigns run on different occasions (lab pool --help: python -m analysis.occasions)"),
    ):
        forward = sub.add_parser(name, help=what, add_help=False, prefix_chars="\x00")
        forward.add_argument("args", nargs=argparse.REMAINDER)
    return top


def _positive_count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"--occasions {value!r}: a whole number of campaigns, at least 1")
    return int(value)


# The knobs `lab bench` sets from its own options: -e name -> (attribute of the options, option).
_KNOBS = {
    "lab_campaign_id": ("campaign", "--campaign"),
    "lab_results_dir": ("results", "--results"),
    "lab_profile": ("profile", "--profile"),
    "lab_modes": ("modes", "--modes"),
    "lab_rounds": ("rounds", "--rounds"),
}


def given_knobs(extra: list[str]) -> dict[str, Any]:
    """The knobs of _KNOBS among -e values, parsed as ansible-playbook parses them (key=value
    pairs, YAML/JSON, or @file); the last one wins, as there."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.splitter import parse_kv

    loader, found = DataLoader(), dict[str, Any]()
    for item in extra:
        text = item.strip()
        if text.startswith("@"):
            data = loader.load_from_file(text[1:])
        elif text.startswith(("{", "[")):
            data = loader.load(text)
        else:
            data = parse_kv(text)
        if not isinstance(data, dict):
            raise ValueError(f"-e {item!r}: extra vars must be key=value pairs, a YAML/JSON object or @file")
        found |= {k: v for k, v in data.items() if k in _KNOBS}
    return found


def _knob_value(knob: str, raw: Any, project: Path) -> Any:
    if knob == "lab_results_dir":
        # As the lab role reads it: relative to the project.
        path = Path(str(raw))
        return path if path.is_absolute() else project / path
    if knob == "lab_modes":
        return _modes(raw) if isinstance(raw, str) else [str(m) for m in raw]
    if knob == "lab_rounds":
        return _positive(str(raw))
    return str(raw)


def _apply_knobs(args: argparse.Namespace, project: Path) -> str | None:
    """Fold the knobs given with -e into the options, so the campaign uses them (the runner's
    own extra vars would otherwise override them); the message when one contradicts its option."""
    try:
        knobs = given_knobs(args.extra_vars)
    except Exception as exc:  # noqa: BLE001 - ansible's loader raises its own errors; the message names the -e
        return f"-e: {exc}"
    resume = getattr(args, "resume", None)
    for knob, raw in knobs.items():
        attr, option = _KNOBS[knob]
        try:
            value = _knob_value(knob, raw, project)
        except argparse.ArgumentTypeError as exc:
            return f"-e {knob}: {exc}"
        mine = (resume or getattr(args, attr, None)) if knob == "lab_campaign_id" else getattr(args, attr, None)
        same = mine is None or (Path(mine).resolve() == Path(value).resolve() if knob == "lab_results_dir" else mine == value)
        if not same:
            return f"-e {knob}={raw} contradicts {'--resume' if resume and knob == 'lab_campaign_id' else option} {mine}: give one of them"
        if not (knob == "lab_campaign_id" and resume):
            setattr(args, attr, value)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command in ("report", "compare", "pool"):
        from analysis import compare, occasions, report

        forward = {"report": report.main, "compare": compare.main, "pool": occasions.main}[args.command]
        return forward(args.args)
    project: Path = args.project.resolve()
    if args.command != "status":
        problem = _apply_knobs(args, project)
        if problem:
            print(f"lab: {problem}", file=sys.stderr)
            return 2
    results: Path = (args.results or project / "results").resolve()
    if args.command == "status":
        print(campaigns.table(campaigns.scan(results)))
        return 0
    if not (project / "bench.yml").is_file():
        print(f"lab: --project {project}: no bench.yml there", file=sys.stderr)
        return 2
    inventory: Path = (args.inventory or project / "inventory" / "hosts.yml").resolve()
    if not inventory.exists():
        print(f"lab: --inventory {inventory}: no such file or folder", file=sys.stderr)
        return 2
    if getattr(args, "occasions", None) is None and (getattr(args, "every", None) or getattr(args, "study", None)):
        print("lab: --every and --study go with --occasions N", file=sys.stderr)
        return 2
    resume = getattr(args, "resume", None)
    if resume and not (results / resume).is_dir():
        print(f"lab: --resume {resume}: no campaign folder {results / resume}", file=sys.stderr)
        return 2
    if getattr(args, "occasions", None) is not None:
        return _study(args, project, results, inventory)
    # The campaign id is minted here, once: given (--campaign, --resume, -e lab_campaign_id) or new.
    campaign = resume or getattr(args, "campaign", None) or bench.new_campaign_id(results)
    if getattr(args, "campaign", None) and (results / campaign).exists():
        print(f"lab: --campaign {campaign}: {results / campaign} exists; resume it with --resume {campaign}", file=sys.stderr)
        return 2
    request = _request(args, project, results, inventory, campaign, bool(resume))
    if resume:
        # Same profile, modes, rounds and -e values as the campaign's first start, unless given again.
        request = request.resumed(campaigns.recorded_request(results / resume))
    return bench.run(request, tty=False if getattr(args, "plain", False) else None)


def _request(args: argparse.Namespace, project: Path, results: Path, inventory: Path, campaign: str, resume: bool) -> bench.BenchRequest:
    return bench.BenchRequest(
        project=project,
        results=results,
        inventory=inventory,
        campaign=campaign,
        resume=resume,
        profile=args.profile,
        modes=args.modes,
        rounds=args.rounds,
        verify_only=args.command == "verify",
        extra=args.extra_vars,
    )


def _study(args: argparse.Namespace, project: Path, results: Path, inventory: Path) -> int:
    from analysis import occasions

    if args.resume or args.campaign:
        print("lab: --occasions runs campaigns of its own (STUDY-o1, -o2 ...): give --study, not --campaign or --resume", file=sys.stderr)
        return 2
    try:
        every = study.duration_s(args.every or "1h")
    except ValueError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2
    study_id = args.study or bench.new_campaign_id(results)
    template = _request(args, project, results, inventory, study_id, False)
    found, problem = study.plan(results, study_id, args.occasions, every, template, time.time())
    if problem:
        print(f"lab: --study {study_id}: {problem}", file=sys.stderr)
        return 2
    tty = False if args.plain else None
    return study.run(found, template, lambda request: bench.run(request, tty=tty), occasions.main)


if __name__ == "__main__":
    sys.exit(main())
