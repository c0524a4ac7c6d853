"""Ring sources: the sim source on a memfd named like simhv's, the fake
source, and channel discovery over a XenStore stand-in."""

from __future__ import annotations

import contextlib
import os

import pytest
from ivcom import layouts as L
from ivcom_trace import discovery
from ivcom_trace.fakes import DEMO_STORE, FakeStore
from ivcom_trace.sources import (
    ChannelClosed,
    FakeSource,
    RingSnapshot,
    RingSource,
    SimSource,
    SourceError,
    XenSource,
    find_grant_areas,
)

GRANTER = 7
FIRST = 300


@pytest.fixture
def grant_memfd():
    """3 pages granted by domain 7 from ref 300: control page + 2 data pages."""
    if not hasattr(os, "memfd_create"):
        pytest.skip("os.memfd_create not available")
    fd = os.memfd_create(f"ivcom-grant:{GRANTER}:{FIRST}:3", 0)
    os.ftruncate(fd, 3 * L.PAGE_SIZE)
    ring, prod = L.build_messages(4096, 0, [b"hello", b"world!"])
    ctrl = L.build_ivcom(s2c_order=12, c2s_order=12, grefs=(FIRST + 1, FIRST + 2),
                         s2c={"prod": prod, "cons": 0})
    os.pwrite(fd, ctrl, 0)
    os.pwrite(fd, ring, L.PAGE_SIZE)
    yield fd
    with contextlib.suppress(OSError):
        os.close(fd)


def test_grant_area_found_under_proc(grant_memfd: int) -> None:
    areas = [a for a in find_grant_areas(pid=os.getpid()) if a.granter == GRANTER]
    assert len(areas) == 1
    a = areas[0]
    assert (a.first_ref, a.npages) == (FIRST, 3)
    assert a.link == f"/proc/{os.getpid()}/fd/{grant_memfd}"


def test_sim_source_reads_control_page_and_rings(grant_memfd: int) -> None:
    src = SimSource(GRANTER, FIRST, pid=os.getpid(), label="7/t")
    assert isinstance(src, RingSource)
    snap = src.snapshot()
    assert snap.kind == "ivcom" and len(snap.ctrl) == L.PAGE_SIZE
    assert len(snap.rings) == 2 and all(len(r) == L.PAGE_SIZE for r in snap.rings)
    d = snap.decode()
    assert d.violations == ()
    assert d.directions[0].msgs == 2
    assert "grant ref 300 of domain 7" in src.describe()
    src.close()


def test_sim_source_is_live_and_read_only(grant_memfd: int) -> None:
    src = SimSource(GRANTER, FIRST, pid=os.getpid())
    before = os.pread(grant_memfd, 3 * L.PAGE_SIZE, 0)
    src.snapshot()
    # the peer moves on: the next snapshot sees it
    os.pwrite(grant_memfd, (24).to_bytes(4, "little"), 0x80)  # s2c cons
    assert src.snapshot().decode().directions[0].cons == 24
    after = os.pread(grant_memfd, 3 * L.PAGE_SIZE, 0)
    assert after[:0x80] == before[:0x80] and after[0x84:] == before[0x84:]
    for _, mm in src._pages._maps.values():
        with pytest.raises(TypeError):
            mm[0] = 1  # PROT_READ mapping refuses writes
    src.close()


def test_sim_source_reports_release(grant_memfd: int) -> None:
    src = SimSource(GRANTER, FIRST, pid=os.getpid())
    src.snapshot()
    os.close(grant_memfd)
    with pytest.raises(ChannelClosed, match="released"):
        src.snapshot()
    src.close()


def test_sim_source_unknown_ref_is_a_clear_error(grant_memfd: int) -> None:
    with pytest.raises(SourceError, match="grant ref 999 of domain 7 is not shared"):
        SimSource(GRANTER, 999, pid=os.getpid())


def test_sim_source_skips_data_when_grefs_are_bad(grant_memfd: int) -> None:
    os.pwrite(grant_memfd, (5).to_bytes(4, "little"), 0x0C)  # nr_grefs
    snap = SimSource(GRANTER, FIRST, pid=os.getpid()).snapshot()
    assert snap.rings == ()
    assert L.ViolationKind.BAD_GREFS in {v.kind for v in snap.decode().violations}


def test_xen_source_without_gntdev_is_one_line(tmp_path) -> None:
    with pytest.raises(SourceError, match=r"cannot open .*gntdev"):
        XenSource(0, 8, dev=str(tmp_path / "gntdev"))


def test_fake_source_ends_with_reason() -> None:
    snap = RingSnapshot("ivcom", L.build_ivcom(), (), 1.0)
    src = FakeSource([snap], end_reason="bye")
    assert src.snapshot() is snap
    with pytest.raises(ChannelClosed, match="bye"):
        src.snapshot()
    src.close()
    assert src.closed


# ---- discovery -----------------------------------------------------------------


STORE = DEMO_STORE


def test_list_channels() -> None:
    chans = discovery.list_channels(FakeStore(STORE))
    assert [c.label for c in chans] == ["0/echo", "2/bulk", "2/echo", "2/vchan:0/5000"]
    echo = chans[0]
    assert (echo.kind, echo.server, echo.client, echo.state, echo.client_state) == (
        "ivcom", 0, 3, "connected", "connected")
    assert (echo.s2c_order, echo.c2s_order, echo.ctrl_ref, echo.event_channel) == (16, 12, 8, 5)
    v = chans[3]
    assert (v.kind, v.server, v.client, v.ctrl_ref, v.event_channel) == ("vchan", 2, 0, 12, 7)
    assert v.path == "/local/domain/2/data/vchan/0/5000"


def test_find_channel_by_label_and_path() -> None:
    s = FakeStore(STORE)
    assert discovery.find_channel(s, "bulk").server == 2
    assert discovery.find_channel(s, "2/echo").ctrl_ref == 9
    assert discovery.find_channel(s, "/local/domain/2/data/vchan/0/5000").kind == "vchan"


def test_find_channel_errors_are_one_line() -> None:
    s = FakeStore(STORE)
    with pytest.raises(discovery.StoreError, match="ambiguous: 0/echo, 2/echo"):
        discovery.find_channel(s, "echo")
    with pytest.raises(discovery.StoreError, match="no channel 'nope'"):
        discovery.find_channel(s, "nope")


def test_channel_state_follows_the_store() -> None:
    nodes = dict(STORE)
    s = FakeStore(nodes)
    info = discovery.find_channel(s, "0/echo")
    assert discovery.channel_state(s, info) == "connected"
    nodes["/local/domain/0/data/ivcom/echo/state"] = "closed"
    assert discovery.channel_state(s, info) == "closed"


def test_open_store_without_daemon_is_one_line(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XENSTORED_PATH", str(tmp_path / "no-socket"))
    with pytest.raises(discovery.StoreError, match="cannot reach xenstored at"), \
            discovery.open_store():
        pass


def test_gntdev_ioctl_numbers_match_the_kernel_header(tmp_path) -> None:
    import shutil
    import subprocess
    from pathlib import Path

    from ivcom_trace.sources import IOCTL_GNTDEV_MAP_GRANT_REF, IOCTL_GNTDEV_UNMAP_GRANT_REF

    cc = shutil.which("cc")
    if cc is None or not Path("/usr/include/xen/sys/gntdev.h").exists():
        pytest.skip("needs a C compiler and /usr/include/xen/sys/gntdev.h (libxen-dev)")
    src = tmp_path / "ioc.c"
    src.write_text(
        "#include <stdio.h>\n#include <stdint.h>\n#include <sys/ioctl.h>\n"
        "#include <xen/sys/gntdev.h>\n"
        'int main(void) { printf("%lu %lu\\n", (unsigned long)IOCTL_GNTDEV_MAP_GRANT_REF,'
        " (unsigned long)IOCTL_GNTDEV_UNMAP_GRANT_REF); return 0; }\n"
    )
    subprocess.run([cc, "-o", str(tmp_path / "ioc"), str(src)], check=True)
    out = subprocess.run([str(tmp_path / "ioc")], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(IOCTL_GNTDEV_MAP_GRANT_REF),
                                  str(IOCTL_GNTDEV_UNMAP_GRANT_REF)]
