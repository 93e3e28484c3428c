"""lab: run the container-cost lab's campaigns and read their results.

  lab bench    run a campaign (bench.yml through ansible-runner) with live progress
  lab status   every campaign in the results folder: runs ok/failed/left, state, headline
  lab report   write a campaign's report (python -m analysis.report)
  lab compare  compare two campaigns (python -m analysis.compare)
  lab pool     pool campaigns of one profile run on different occasions (python -m analysis.occasions)
  lab verify   bring every mode up and check that they are equivalent; record no timings

`ansible-playbook bench.yml` stays the lab's entry point for Ansible users; `lab bench` runs
exactly that playbook with the same inventory and variables. Exit codes: 0 success;
ansible-playbook's own code when the playbook failed (the failing host, task and message are
printed, with the log and the resume command); 130 when interrupted (Ctrl-C, SIGTERM: the
targets are put back by playbooks/restore.yml); 2 for bad options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from labcli import bench, campaigns

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

    v = sub.add_parser(
        "verify", help="bring every mode up and check equivalence; no timings", description="bench.yml -e lab_verify_only=true."
    )
    _common(v)
    _campaign_options(v)

    s = sub.add_parser("status", help="every campaign: runs ok/failed/left, state, headline", description=campaigns.__doc__)
    _common(s)

    # Listed for --help; main() hands their arguments to the analysis modules untouched.
    sub.add_parser("report", help="write a campaign's report (lab report --help: the options of python -m analysis.report)")
    sub.add_parser("compare", help="compare two campaigns (lab compare --help: the options of python -m analysis.compare)")
    sub.add_parser("pool", help="pool campaigns run on different occasions (lab pool --help: python -m analysis.occasions)")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # report, compare and pool are the analysis entry points, every argument (--help included) theirs.
    if argv[:1] == ["report"]:
        from analysis import report

        return report.main(argv[1:])
    if argv[:1] == ["compare"]:
        from analysis import compare

        return compare.main(argv[1:])
    if argv[:1] == ["pool"]:
        from analysis import occasions

        return occasions.main(argv[1:])
    args = parser().parse_args(argv)
    project: Path = args.project.resolve()
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
    resume = getattr(args, "resume", None)
    if resume and not (results / resume).is_dir():
        print(f"lab: --resume {resume}: no campaign folder {results / resume}", file=sys.stderr)
        return 2
    campaign = resume or getattr(args, "campaign", None) or bench.new_campaign_id(results)
    if getattr(args, "campaign", None) and (results / campaign).exists():
        print(f"lab: --campaign {campaign}: {results / campaign} exists; resume it with --resume {campaign}", file=sys.stderr)
        return 2
    request = bench.BenchRequest(
        project=project,
        results=results,
        inventory=inventory,
        campaign=campaign,
        resume=bool(resume),
        profile=args.profile,
        modes=args.modes,
        rounds=args.rounds,
        verify_only=args.command == "verify",
        extra=args.extra_vars,
    )
    if resume:
        # Same profile, modes, rounds and -e values as the campaign's first start, unless given again.
        request = request.resumed(campaigns.recorded_request(results / resume))
    return bench.run(request, tty=False if getattr(args, "plain", False) else None)


if __name__ == "__main__":
    sys.exit(main())
