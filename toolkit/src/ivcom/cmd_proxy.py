"""`ivcom proxy listen|serve`: socket programs over IVCOM (see ivcom.proxy,
imported when the command runs: asyncio and libivcom are not needed to
parse arguments)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ivcom.command import Command
from ivcom.errors import IvcomError, UsageError

if TYPE_CHECKING:
    from ivcom.proxy import SockAddr, Target


def _addr(text: str, what: str) -> SockAddr:
    from ivcom.proxy import parse_sockaddr

    try:
        return parse_sockaddr(text)
    except ValueError as exc:
        raise UsageError(f"ivcom proxy: {what}: {exc}") from None


def _service(text: str, what: str) -> str:
    from ivcom._args import _check_name

    try:
        _check_name(text)
    except ValueError as exc:
        raise UsageError(f"ivcom proxy: {what}: {exc}") from None
    return text


def _target(text: str) -> Target:
    from ivcom.proxy import Target

    domain, sep, service = text.partition(":")
    if not sep or not domain or not service:
        raise UsageError(f"ivcom proxy: --to {text!r} is not DOMAIN:SERVICE "
                         "(a domain id or name, a service name)")
    return Target(domain, _service(service, "--to"))


def _allow(text: str) -> list[int]:
    try:
        doms = [int(d) for d in text.split(",")]
    except ValueError:
        raise UsageError(f"ivcom proxy: --allow {text!r} is not a list of domain ids "
                         "(1,2,3)") from None
    if any(not 0 <= d < 0x7FF0 for d in doms):
        raise UsageError(f"ivcom proxy: --allow {text!r}: domain ids are 0..32751")
    return doms


def _one(args: argparse.Namespace, option: str, what: str) -> str:
    """The positional or its option, exactly one of them."""
    value: str | None = getattr(args, option)
    if args.where is not None and value is not None:
        raise UsageError(f"ivcom proxy {args.action}: {what} given twice "
                         f"({args.where!r} and --{option.replace('_', '-')})")
    chosen = value if value is not None else args.where
    if chosen is None:
        raise UsageError(f"ivcom proxy {args.action}: which {what}? "
                         f"(--{option.replace('_', '-')} or as the argument)")
    return chosen


class ProxyCommand(Command):
    name = "proxy"
    help = ("unmodified socket programs over IVCOM: listen takes local socket "
            "clients to a service of another domain, serve is that service "
            "(many clients, half-close, reset on peer death, TCP fallback)")
    examples = (
        ("proxy listen tcp:127.0.0.1:6379 --to 5:redis",
         "each local client gets a channel to domain 5's 'redis'"),
        ("proxy serve redis --to tcp:127.0.0.1:6379 --allow 3,4",
         "domains 3 and 4 reach the local redis"),
        ("proxy listen unix:/run/kv --to db:kv --fallback h2:7000",
         "domain 'db', or TCP to h2 when it is not on this host"),
        ("proxy serve kv --to unix:/run/kv --tcp-listen 0.0.0.0:7000 -v",
         "also TCP clients of other hosts; a line per connection"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=("listen", "serve"))
        parser.add_argument("where", nargs="?", metavar="ADDR|SERVICE",
                            help="listen: the address to listen on (as --listen); "
                                 "serve: the service name (as --name)")
        parser.add_argument("--listen", metavar="ADDR",
                            help="listen: tcp:HOST:PORT, HOST:PORT or unix:PATH")
        parser.add_argument("--name", metavar="SERVICE", help="serve: the service name")
        parser.add_argument("--to", required=True, metavar="DOMAIN:SERVICE|ADDR",
                            help="listen: the service (domain id or name); "
                                 "serve: the local socket each client is connected to")
        parser.add_argument("--tcp-fallback", "--fallback", dest="tcp_fallback",
                            metavar="ADDR",
                            help="listen: dial this TCP address when the domain is not on "
                                 "this host")
        parser.add_argument("--allow", metavar="DOMID,...",
                            help="serve: the client domains allowed (default any)")
        parser.add_argument("--max-per-domain", type=int, default=64, metavar="N",
                            help="serve: channels one client domain may hold at once "
                                 "(default 64)")
        parser.add_argument("--tcp-listen", metavar="ADDR",
                            help="serve: also take plain TCP clients here (the other end "
                                 "of --tcp-fallback)")
        parser.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                            help="listen: seconds a channel connect may take (default 10)")
        parser.add_argument("-v", "--verbose", action="store_true",
                            help="one line per connection on stderr")

    def run(self, args: argparse.Namespace) -> int:
        import asyncio

        from ivcom.proxy import ListenProxy, Log, ServeProxy

        log = Log("ivcom proxy", args.verbose)
        if args.action == "listen":
            if args.max_per_domain != 64:
                raise UsageError("ivcom proxy listen: --max-per-domain is for serve")
            for opt in ("name", "allow", "tcp_listen"):
                if getattr(args, opt) is not None:
                    raise UsageError(f"ivcom proxy listen: --{opt.replace('_', '-')} is "
                                     "for serve")
            listen = _addr(_one(args, "listen", "address to listen on"), "--listen")
            fallback = (_addr(args.tcp_fallback, "--tcp-fallback")
                        if args.tcp_fallback else None)
            if fallback is not None and fallback.kind != "tcp":
                raise UsageError("ivcom proxy: --tcp-fallback is a TCP address (HOST:PORT)")
            if not args.connect_timeout > 0:
                raise UsageError("ivcom proxy: --connect-timeout must be > 0")
            proxy: ListenProxy | ServeProxy = ListenProxy(
                listen, _target(args.to), fallback, log, args.connect_timeout)
        else:
            if args.listen is not None or args.tcp_fallback is not None:
                raise UsageError("ivcom proxy serve: --listen and --tcp-fallback are for "
                                 "listen")
            name = _service(_one(args, "name", "service"), "service")
            to = _addr(args.to, "--to")
            tcp = _addr(args.tcp_listen, "--tcp-listen") if args.tcp_listen else None
            if tcp is not None and tcp.kind != "tcp":
                raise UsageError("ivcom proxy: --tcp-listen is a TCP address (HOST:PORT)")
            allow = _allow(args.allow) if args.allow else None
            if not 0 < args.max_per_domain <= 4096:
                raise UsageError("ivcom proxy: --max-per-domain must be 1..4096")
            proxy = ServeProxy(name, to, allow, tcp, log, args.max_per_domain)
        try:
            asyncio.run(proxy.run())
        except OSError as exc:
            raise IvcomError(f"proxy {args.action}: {exc}") from None
        return 0
