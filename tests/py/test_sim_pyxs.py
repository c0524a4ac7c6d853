"""pyxs talks to the sim's real xenstored as dom0 and sees domains'
nodes and permissions."""

from __future__ import annotations

import time

import pytest

pyxs = pytest.importorskip("pyxs")

from ivcom import sim as simmod  # noqa: E402


def client(sim: simmod.Sim) -> pyxs.Client:
    return pyxs.Client(unix_socket_path=str(sim.xenstored_socket))


def test_dom0_read_write(sim: simmod.Sim) -> None:
    with client(sim) as c:
        c.write(b"/local/domain/0/ivcom-test", b"hello")
        assert c.read(b"/local/domain/0/ivcom-test") == b"hello"
        c.mkdir(b"/local/domain/0/ivcom-dir")
        c.write(b"/local/domain/0/ivcom-dir/a", b"1")
        assert c.list(b"/local/domain/0/ivcom-dir") == [b"a"]
        c.delete(b"/local/domain/0/ivcom-dir")
        assert not c.exists(b"/local/domain/0/ivcom-dir")


def test_dom0_perms_roundtrip(sim: simmod.Sim) -> None:
    with client(sim) as c:
        c.write(b"/local/domain/0/ivcom-perm", b"x")
        c.set_perms(b"/local/domain/0/ivcom-perm", [b"n0", b"r0"])
        assert c.get_perms(b"/local/domain/0/ivcom-perm") == [b"n0", b"r0"]
        with pytest.raises(pyxs.PyXSError):
            c.read(b"/local/domain/0/no-such-node")


def test_domain_introduced_with_its_own_node(sim: simmod.Sim) -> None:
    """A domain that connects to simhv is introduced to xenstored and owns
    /local/domain/<id>; when it goes away it is released and its node
    removed, as the toolstack does."""
    domid = 321
    node = f"/local/domain/{domid}".encode()
    with client(sim) as c:
        hold = sim.hold_domain(domid)
        try:
            assert c.is_domain_introduced(domid)
            assert c.get_perms(node) == [f"n{domid}".encode()]
            assert (sim.dir / f"dom-{domid}").exists()
        finally:
            hold.close()
        for _ in range(500):  # simhv releases the domain asynchronously
            if not c.exists(node):
                break
            time.sleep(0.01)
        assert not c.exists(node)
        assert not c.is_domain_introduced(domid)
        assert not (sim.dir / f"dom-{domid}").exists()


def test_perms_naming_a_live_domain_stick(sim: simmod.Sim) -> None:
    """xenstored keeps ACL entries only for domains that exist (it asks
    xc_domain_getinfo, answered by the shim from the live domains)."""
    domid = 322
    path = b"/local/domain/0/ivcom-acl"
    with client(sim) as c:
        hold = sim.hold_domain(domid)
        try:
            c.write(path, b"x")
            c.set_perms(path, [b"n0", f"r{domid}".encode()])
            assert c.get_perms(path) == [b"n0", f"r{domid}".encode()]
        finally:
            hold.close()
            c.delete(path)
