"""ivcom.Service on the sim: one name, many client domains, each client a
process of its own domain (the C tool ivcom-pingpong or api_peer.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import selectors
import threading

import ivcom
import ivcom.aio
import pytest
from api_helpers import Doms, finish


def test_sync_service_serves_three_domains_at_once(doms: Doms) -> None:
    clients = doms.fresh(3)
    name = "svc3"
    with ivcom.Service.open(name, allow=clients, ring_order=12) as svc:
        assert svc.mode == "message" and svc.name == name and svc.fileno() >= 0
        with pytest.raises(BlockingIOError):
            svc.accept(timeout=0)                   # nobody is waiting
        procs = {d: doms.spawn_tool("ivcom-pingpong", "-p", doms.me, "-n", name, "-t", "20000",
                                    "-c", 50, "-j", "client", domid=d) for d in clients}
        chans = [svc.accept(timeout=20) for _ in clients]
        assert sorted(ch.peer_domid for ch in chans) == sorted(clients)
        assert all(ch.is_server and ch.mode == "message" for ch in chans)
        st = svc.stats()
        assert (st.requests, st.accepted, st.refused, st.pending) == (3, 3, 0, 0)
        with pytest.raises(dataclasses.FrozenInstanceError):
            st.accepted = 0  # type: ignore[misc,unused-ignore]
    # the service is closed: its channels stay open (and its own platform
    # with them), served together from one thread through their descriptors
    plat = chans[0].platform
    echoed = dict.fromkeys(clients, 0)
    sel = selectors.DefaultSelector()

    def pump(ch: ivcom.Channel, dom: int) -> None:
        """Echo what is there; the descriptor is armed when this returns."""
        while True:
            try:
                msg = ch.recv(timeout=0)
            except BlockingIOError:
                return
            except BrokenPipeError:
                sel.unregister(ch.fileno())
                ch.close()
                return
            ch.send(msg, timeout=20)
            echoed[dom] += 1

    for ch in chans:
        sel.register(ch.fileno(), selectors.EVENT_READ, (ch, ch.peer_domid))
        pump(ch, ch.peer_domid)
    while sel.get_map():
        ready = sel.select(timeout=20)
        assert ready, f"clients stalled: {echoed}"
        for key, _ in ready:
            ch, dom = key.data
            ch.ack()
            pump(ch, dom)
    sel.close()
    assert echoed == dict.fromkeys(clients, 50 + 5)    # -c 50 and the warm-up of 5
    assert plat.closed and plat._h is None              # gone with the last channel
    for d, p in procs.items():
        report = json.loads(finish(p))
        assert report["count"] == 50, d


def test_sync_service_refuses_outside_allow_and_over_limit(doms: Doms) -> None:
    name = "svcno"
    with ivcom.Service.open(name, allow=[doms.peer], max_per_domain=1) as svc:
        outsider = doms.spawn("refused", name, doms.me, "EACCES", domid=doms.third)
        holder = doms.spawn("hold", name, doms.me)
        ch = svc.accept(timeout=20)
        assert ch.peer_domid == doms.peer
        assert holder.stdout is not None and holder.stdout.readline() == "ok connected\n"
        second = doms.spawn("refused", name, doms.me, "EBUSY")    # doms.peer again
        while outsider.poll() is None or second.poll() is None:
            with pytest.raises(TimeoutError):
                svc.accept(timeout=0.1)             # answers them; nobody else comes
        assert finish(outsider).startswith("ok refused errno=13 PermissionError")
        assert finish(second).startswith(f"ok refused errno={errno.EBUSY} ")
        st = svc.stats()
        assert (st.accepted, st.refused, st.over_limit) == (1, 1, 1)
        ch.close()
        finish(holder)
    assert svc.closed
    with pytest.raises(ivcom.ChannelClosedError):
        svc.accept(timeout=0)
    svc.close()


def test_service_arguments() -> None:
    with pytest.raises(ValueError, match="at least one domain"):
        ivcom.Service.open("x", allow=[])
    with pytest.raises(TypeError):
        ivcom.Service.open("x", allow="3")  # type: ignore[arg-type,unused-ignore]
    with pytest.raises(ValueError):
        ivcom.Service.open("x", allow=[70000])
    with pytest.raises(ValueError):
        ivcom.Service.open("x", max_per_domain=-1)
    with pytest.raises(ValueError):
        ivcom.Service.open("bad name")
    with pytest.raises(TypeError, match="give no peer"):
        asyncio.run(ivcom.start_server(lambda r, w: None, "x", 3, allow=[3]))


def test_aio_start_server_serves_three_at_once(doms: Doms) -> None:
    """start_server without a peer: a service; the handlers wait for each
    other, so the three clients must be served at the same time."""
    clients = doms.fresh(3)
    name = "asvc3"
    seen: list[int] = []
    active = 0

    async def handler(reader: asyncio.StreamReader,
                      writer: ivcom.aio.ChannelStreamWriter) -> None:
        nonlocal active
        seen.append(writer.get_extra_info("peer_domid"))
        active += 1
        if active == len(clients):
            all_in.set()
        await asyncio.wait_for(all_in.wait(), 30)
        while line := await reader.readline():
            writer.write(line.upper())
        await writer.drain()

    async def main() -> None:
        threads = threading.active_count()
        server = await ivcom.start_server(handler, name, allow=clients, ring_order=12)
        assert server.service is not None
        async with server:
            procs = [doms.spawn("lines", name, doms.me, 200, domid=d) for d in clients]
            await asyncio.wait_for(all_in.wait(), 30)
            assert threading.active_count() == threads     # no helper thread
            outs = await asyncio.gather(*(asyncio.to_thread(finish, p) for p in procs))
            assert outs == ["ok lines 200\n"] * 3
            st = server.service.stats()
            assert (st.accepted, st.refused) == (3, 0)
            assert server.is_serving()
        assert not server.is_serving() and server.service.closed
        assert sorted(seen) == sorted(clients)

    all_in = asyncio.Event()
    asyncio.run(asyncio.wait_for(main(), 60))


def test_aio_service_accept_and_connect_to_a_service(doms: Doms) -> None:
    """An AsyncService here with accept() cancelled and closed; then
    aio.connect to a C service (ivcom-pingpong without -p) in the peer."""
    async def main() -> None:
        threads = threading.active_count()
        svc = ivcom.aio.open_service("asvc", allow=[doms.third])
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(svc.accept(), 0.2)   # nobody: cancelled cleanly
        task = asyncio.ensure_future(svc.accept())
        await asyncio.sleep(0.05)
        svc.close()
        with pytest.raises(ivcom.ChannelClosedError):
            await task
        assert not ivcom.aio._fd_waiters                # nothing left in the selector

        srv = doms.spawn_tool("ivcom-pingpong", "-n", "pp", "-t", "20000", "-j",
                              "--allow", doms.me, "--clients", 1, "server", domid=doms.peer)
        ch = await ivcom.aio.connect("pp", doms.peer, timeout=20)
        assert threading.active_count() == threads      # no helper thread
        async with ch:
            assert ch.peer_domid == doms.peer and ch.mode == "message"
            for i in range(50):
                await ch.send(b"m%d" % i)
                assert await ch.recv() == b"m%d" % i
        report = json.loads(await asyncio.to_thread(finish, srv))
        assert report["client"] == doms.me and report["echoed"] == 50
        assert report["error"] == ""

    # this domain lives on between the service's platform and the connect's
    # (xenstored drops a departed domain's ACL entries, maybe late)
    with doms.holding(doms.me):
        asyncio.run(asyncio.wait_for(main(), 60))


def test_aio_connects_sharing_a_platform_watch(doms: Doms) -> None:
    """Two connects on one platform wait on its one XenStore watch
    descriptor at once; the services they wait for (in two domains: on the
    sim a domain's XenStore connection is one process's) come later."""
    servers = {"sa": doms.peer, "sb": doms.third}

    async def main() -> None:
        with ivcom.Platform() as plat:
            tasks = [asyncio.ensure_future(ivcom.aio.connect(n, d, timeout=20, platform=plat))
                     for n, d in servers.items()]
            await asyncio.sleep(0.2)
            assert not any(t.done() for t in tasks)
            assert len(ivcom.aio._fd_waiters) == 1      # one descriptor, two waiters
            srvs = [doms.spawn_tool("ivcom-pingpong", "-n", n, "-t", "20000", "-j",
                                    "--clients", 1, "server", domid=d)
                    for n, d in servers.items()]
            chans = await asyncio.gather(*tasks)
            for ch, d in zip(chans, servers.values(), strict=True):
                async with ch:
                    assert ch.peer_domid == d
                    await ch.send(b"to %d" % d)
                    assert await ch.recv() == b"to %d" % d
            for srv in srvs:
                report = json.loads(await asyncio.to_thread(finish, srv))
                assert report["client"] == doms.me and report["echoed"] == 1
            assert plat._nchan == 0

    asyncio.run(asyncio.wait_for(main(), 60))
