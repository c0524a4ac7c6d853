"""`ivcom sim start|stop|status|env`: run the sim platform in the background.

The sim directory is -d DIR, else $IVCOM_SIM_DIR, else build/sim.
`eval "$(ivcom sim env --domid 1)"` makes a shell act as domain 1.
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

from ivcom import sim
from ivcom.command import Command


def _sim_dir(args: argparse.Namespace) -> Path:
    if args.dir:
        return Path(args.dir)
    env = os.environ.get("IVCOM_SIM_DIR")
    return Path(env) if env else sim.ROOT / "build" / "sim"


class SimCommand(Command):
    name = "sim"
    help = "start, stop or inspect a sim (simhv + the real xenstored)"
    examples = (
        ("sim start --build", "build simhv and the shim, then start"),
        ("sim status", "pids, xenstored socket, live domains"),
        ("sim env --domid 1", "exports that make a shell domain 1"),
        ("sim stop -d /tmp/sim", "stop the sim kept in /tmp/sim"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=("start", "stop", "status", "env"))
        parser.add_argument("-d", "--dir", help="sim directory (default build/sim)")
        parser.add_argument("--build-dir", help="core build dir (default build/core)")
        parser.add_argument(
            "--build", action="store_true", help="start: build simhv and the shim first"
        )
        parser.add_argument("-v", "--verbose", action="store_true", help="start: simhv logs")
        parser.add_argument(
            "--domid", type=int, default=None, help="env: act as this domain (default dom0)"
        )

    def run(self, args: argparse.Namespace) -> int:
        sim_dir = _sim_dir(args)
        build = Path(args.build_dir) if args.build_dir else None
        if args.action == "start":
            if args.build:
                sim.build_binaries(build)
            s = sim.start(sim_dir, build=build, verbose=args.verbose)
            print(f"sim running in {s.dir} (simhv {s.simhv_pid}, xenstored {s.xenstored_pid})")
            return 0
        if args.action == "stop":
            sim.attach(sim_dir).stop()
            print(f"sim in {sim_dir} stopped")
            return 0
        if args.action == "status":
            try:
                s = sim.attach(sim_dir)
            except sim.SimError as exc:
                print(str(exc))
                return 3
            doms = sorted(
                int(p.name[4:]) for p in s.dir.glob("dom-*") if p.name[4:].isdigit()
            )
            print(f"sim running in {s.dir}")
            print(f"  simhv pid {s.simhv_pid}, xenstored pid {s.xenstored_pid}")
            print(f"  xenstored socket {s.xenstored_socket}")
            print(f"  live domains: 0{''.join(f', {d}' for d in doms)}")
            return 0
        s = sim.attach(sim_dir)
        env = s.env if args.domid is None else s.domain_env(args.domid)
        for key, value in env.items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
