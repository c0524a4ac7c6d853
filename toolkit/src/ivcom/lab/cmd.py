"""`ivcom lab ...`: build the image, boot Xen, run scenarios, read logs."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from ivcom.command import Command
from ivcom.errors import UsageError
from ivcom.lab.errors import LabError
from ivcom.lab.image import LabImage, build_image, build_root
from ivcom.lab.runner import BootResult, LabRunner, Scenario, builtin_names
from ivcom.lab.tools import standard_payload


def _image(force: bool = False) -> LabImage:
    return build_image(standard_payload(), force=force)


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return v


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, val = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, val


def _report(res: BootResult, as_json: bool) -> int:
    failed = res.failed()
    if as_json:
        doc = {
            "run_dir": str(res.run_dir), "log": str(res.log),
            "results": str(res.results), "seconds": round(res.seconds, 1),
            "dom0_ready_s": None if res.dom0_ready_s is None else round(res.dom0_ready_s, 1),
            "retries": res.retries + [r for s in res.scenarios.values() for r in s.retries],
            "scenarios": {s.name: {"rc": s.rc, "ok": s.ok, "dir": str(s.dir),
                                   "reason": s.reason} for s in res.scenarios.values()},
        }
        print(json.dumps(doc, indent=2))
    else:
        for note in res.retries:
            print(f"ivcom lab: retried: {note}")
        for s in res.scenarios.values():
            for note in s.retries:
                print(f"ivcom lab: {s.name}: retried: {note}")
            if s.ok:
                print(f"PASS {s.name}  ({s.dir})")
            else:
                print(f"FAIL {s.name}: {s.reason}  ({s.dir})")
        ready = "?" if res.dom0_ready_s is None else f"{res.dom0_ready_s:.1f}"
        print(f"ivcom lab: {len(res.scenarios) - len(failed)}/{len(res.scenarios)} passed; "
              f"dom0 ready after {ready}s, {res.seconds:.1f}s in all; log {res.log}")
    return 1 if failed else 0


class LabCommand(Command):
    name = "lab"
    help = "the Xen lab: Xen 4.17 under QEMU TCG (build, boot, run, shell-log)"
    examples = (
        ("lab run pv vchan net baseline", "one boot, four scenarios in order"),
        ("lab build", "fetch the packages, build the image"),
        ("lab boot -v", "boot, check dom0, echo the console"),
        ("lab run ivcom --results /tmp/r -j", "keep the results in /tmp/r; JSON"),
        ("lab shell-log -n 50", "end of the latest run's serial log"),
        ("lab list", "the built-in scenarios"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="lab_command", metavar="ACTION")
        sub.required = True
        b = sub.add_parser("build", help="fetch Debian packages and build the cached image")
        b.add_argument("--force", action="store_true", help="rebuild even if cached")
        b.set_defaults(_lab=self.build)

        for name, helptext, fn in (
                ("boot", "boot Xen, check dom0 (the smoke scenario), power off", self.boot),
                ("run", "boot once and run scenarios in order", self.run_scenarios)):
            p = sub.add_parser(name, help=helptext, description=helptext)
            if name == "run":
                p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                               help=f"built-in name ({', '.join(builtin_names())}) "
                                    "or a path to a .sh file")
                p.add_argument("--env", action="append", type=_env_pair, default=[],
                               metavar="NAME=VALUE", help="export to the scenarios")
                p.add_argument("--results", type=Path, metavar="DIR",
                               help="also copy the results directory here")
            p.add_argument("--timeout", type=_positive, default=900.0, metavar="S",
                           help="hard limit for the whole boot (default 900)")
            p.add_argument("--scenario-timeout", type=_positive, default=600.0, metavar="S",
                           help="limit per scenario inside dom0 (default 600)")
            p.add_argument("--no-retry", action="store_true",
                           help="do not retry a boot that fails before dom0 is ready")
            p.add_argument("-v", "--verbose", action="store_true",
                           help="echo the serial console")
            p.add_argument("-j", "--json", action="store_true", help="JSON summary")
            p.set_defaults(_lab=fn)

        s = sub.add_parser("shell-log", help="print a run's serial log or a guest console log")
        s.add_argument("run", nargs="?", help="run directory name (default: the latest)")
        s.add_argument("--guest", metavar="NAME", help="a guest's console log instead")
        s.add_argument("-n", "--lines", type=int, default=0, metavar="N",
                       help="only the last N lines")
        s.set_defaults(_lab=self.shell_log)
        sub.add_parser("list", help="list built-in scenarios").set_defaults(_lab=self.list)

    def run(self, args: argparse.Namespace) -> int:
        return int(args._lab(args))

    def build(self, args: argparse.Namespace) -> int:
        img = _image(args.force)
        print(f"ivcom lab: image {img.key} ({img.dir}); kernel {img.kernel_version}")
        return 0

    def _runner(self, args: argparse.Namespace) -> LabRunner:
        def echo(line: str) -> None:
            print(line, flush=True)

        def status(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)

        return LabRunner(_image(), timeout=args.timeout,
                         scenario_timeout=args.scenario_timeout,
                         retry=not args.no_retry, echo=echo if args.verbose else None,
                         status=status)

    def boot(self, args: argparse.Namespace) -> int:
        res = self._runner(args).boot([Scenario.builtin("smoke")], tag="boot")
        return _report(res, args.json)

    def run_scenarios(self, args: argparse.Namespace) -> int:
        scns = [Scenario.resolve(s) for s in args.scenarios]
        names = [s.name for s in scns]
        if len(set(names)) != len(names):
            raise UsageError("each scenario may appear only once per boot")
        res = self._runner(args).boot(scns, tag="-".join(names)[:40], env=dict(args.env))
        if args.results is not None:
            try:
                shutil.copytree(res.results, args.results, dirs_exist_ok=True)
            except OSError as exc:
                raise LabError(f"cannot copy results to {args.results}: {exc.strerror}",
                               stage="results") from exc
        return _report(res, args.json)

    def shell_log(self, args: argparse.Namespace) -> int:
        base = build_root() / "lab"
        runs = sorted((base / "runs").glob("*"), key=lambda p: p.stat().st_mtime) \
            if (base / "runs").is_dir() else []
        if args.run:
            run = base / "runs" / args.run
            if not run.is_dir():
                raise UsageError(f"no run {args.run!r} under {base / 'runs'}")
        elif runs:
            run = runs[-1]
        else:
            raise LabError("no lab runs yet (try `ivcom lab boot`)")
        if args.guest:
            hits = sorted(run.glob(f"results/*/consoles/guest-{args.guest}.log"))
            if not hits:
                raise LabError(f"no console log for guest {args.guest!r} in {run.name}")
            path = hits[-1]
        else:
            path = base / "logs" / f"{run.name}.log"
            if not path.is_file():
                raise LabError(f"no serial log for {run.name}")
        lines = path.read_text(errors="replace").splitlines()
        if args.lines > 0:
            lines = lines[-args.lines:]
        for line in lines:
            print(line)
        return 0

    def list(self, args: argparse.Namespace) -> int:
        for n in builtin_names():
            print(n)
        return 0

