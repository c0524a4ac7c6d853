"""Build-then-parse round trips of every layout, driven by hypothesis."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from ivcom import layouts as L

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
orders = st.integers(L.IVCOM_RING_ORDER_MIN, L.IVCOM_RING_ORDER_MAX)


def line(kind: str) -> st.SearchStrategy[dict]:
    first = ("prod", "cons_event") if kind == "prod" else ("cons", "prod_event")
    return st.fixed_dictionaries(
        {first[0]: u32, first[1]: u32, "notify_count": u32, "wait_count": u32}
    )


@given(
    st.fixed_dictionaries(
        {
            "magic": u32, "version": u16, "mode": u8, "s2c_order": u8, "c2s_order": u8,
            "server_live": u8, "client_live": u8, "reserved0": u8, "nr_grefs": u32,
            "flags": u32, "reserved1": u32, "nonce": st.integers(0, 2**64 - 1),
            "s2c_prod": line("prod"), "s2c_cons": line("cons"),
            "c2s_prod": line("prod"), "c2s_cons": line("cons"),
        }
    )
)
def test_ivcom_ctrl_construct_round_trip(fields: dict) -> None:
    raw = L.IVCOM_CTRL.build(fields)
    assert len(raw) == L.IVCOM_CTRL_GREFS_OFFSET
    back = L.IVCOM_CTRL.parse(raw)
    for k, v in fields.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                assert back[k][kk] == vv
        else:
            assert back[k] == v
    assert L.IVCOM_CTRL.build(back) == raw


@given(u32, st.sampled_from([L.IVCOM_MSG_DATA, L.IVCOM_MSG_PAD]), u16)
def test_msg_hdr_round_trip(length: int, typ: int, reserved: int) -> None:
    raw = L.MSG_HDR.build({"len": length, "type": typ, "reserved": reserved})
    assert raw == length.to_bytes(4, "little") + typ.to_bytes(2, "little") + reserved.to_bytes(
        2, "little"
    )
    h = L.MSG_HDR.parse(raw)
    assert (h.len, h.type, h.reserved) == (length, typ, reserved)


@st.composite
def consistent_dir(draw: st.DrawFn, order: int) -> dict:
    size = 1 << order
    cons = draw(u32)
    fill = draw(st.integers(0, size))
    return {
        "prod": (cons + fill) % L.U32, "cons": cons, "cons_event": draw(u32),
        "prod_event": draw(u32), "prod_notify": draw(u32), "cons_notify": draw(u32),
        "prod_wait": draw(u32), "cons_wait": draw(u32),
    }


@given(st.data(), orders, orders, st.sampled_from([1, 2]), st.sampled_from([0, 1, 2]),
       st.sampled_from([0, 1, 2]))
def test_ivcom_page_decodes_to_what_was_built(
    data: st.DataObject, s2c_order: int, c2s_order: int, mode: int, sl: int, cl: int
) -> None:
    s2c = data.draw(consistent_dir(s2c_order))
    c2s = data.draw(consistent_dir(c2s_order))
    page = L.build_ivcom(mode=mode, s2c_order=s2c_order, c2s_order=c2s_order, server_live=sl,
                         client_live=cl, s2c=s2c, c2s=c2s)
    assert len(page) == L.PAGE_SIZE
    d = L.decode_ivcom(page)
    assert d.violations == ()
    h = d.header
    assert isinstance(h, L.IvcomCtrl)
    assert (h.mode, h.s2c_order, h.c2s_order, h.server_live, h.client_live) == (
        mode, s2c_order, c2s_order, sl, cl)
    assert len(h.grefs) == h.nr_grefs == L.ivcom_nr_grefs(s2c_order, c2s_order)
    for dir_, want, order in zip(d.directions, (s2c, c2s), (s2c_order, c2s_order), strict=True):
        assert (dir_.prod, dir_.cons, dir_.size) == (want["prod"], want["cons"], 1 << order)
        assert dir_.fill == (want["prod"] - want["cons"]) % L.U32
        assert (dir_.prod_event, dir_.cons_event) == (want["prod_event"], want["cons_event"])
        assert (dir_.prod_notifies, dir_.cons_notifies) == (want["prod_notify"],
                                                            want["cons_notify"])
        assert (dir_.prod_waits, dir_.cons_waits) == (want["prod_wait"], want["cons_wait"])


@settings(max_examples=60)
@given(
    st.lists(st.binary(max_size=700), max_size=40),
    st.integers(0, (1 << 29) - 1).map(lambda x: x * 8),
)
def test_messages_walk_back_as_built(payloads: list[bytes], start: int) -> None:
    size = 1 << 13
    # keep within one ring's worth (the producer would block otherwise)
    total, kept = 0, []
    for p in payloads:
        need = ((8 + len(p) + 7) & ~7) + 8 + 1024  # worst-case pad in front
        if total + need > size:
            break
        total += need
        kept.append(p)
    ring, prod = L.build_messages(size, start % L.U32, kept)
    recs, bad = L.walk_messages(ring, size, start % L.U32, prod)
    assert bad == []
    data = [r for r in recs if r.type == L.IVCOM_MSG_DATA]
    assert [r.length for r in data] == [len(p) for p in kept]
    for r, p in zip(data, kept, strict=True):
        off = (r.index + 8) & (size - 1)
        assert ring[off : off + len(p)] == p
    ctrl = L.build_ivcom(s2c_order=13, c2s_order=12, s2c={"prod": prod, "cons": start % L.U32})
    d = L.decode_ivcom(ctrl, ring, bytes(4096))
    assert d.violations == ()
    assert d.directions[0].msgs == len(kept)


@given(
    st.sampled_from([(10, 11), (11, 10), (10, 12), (12, 11), (12, 12), (16, 10), (20, 20)]),
    u32, u32, st.sampled_from([0, 1, 2]), st.sampled_from([0, 1]),
    st.integers(0, 3), st.integers(0, 3), st.data(),
)
def test_vchan_round_trip(orders_: tuple[int, int], lc: int, rc: int, cl: int, sl: int,
                          cn: int, sn: int, data: st.DataObject) -> None:
    lo, ro = orders_
    lf = data.draw(st.integers(0, 1 << lo))
    rf = data.draw(st.integers(0, 1 << ro))
    left = (lc, (lc + lf) % L.U32)
    right = (rc, (rc + rf) % L.U32)
    page = L.build_vchan(left_order=lo, right_order=ro, left=left, right=right, cli_live=cl,
                         srv_live=sl, cli_notify=cn, srv_notify=sn)
    d = L.decode_vchan(page)
    assert d.violations == ()
    h = d.header
    assert isinstance(h, L.VchanIface)
    assert (h.left_cons, h.left_prod, h.right_cons, h.right_prod) == (*left, *right)
    assert (h.left_order, h.right_order, h.cli_live, h.srv_live) == (lo, ro, cl, sl)
    assert (h.cli_notify, h.srv_notify) == (cn, sn)
    assert len(h.grants) == L.vchan_pages(lo) + L.vchan_pages(ro)
    assert [x.fill for x in d.directions] == [lf, rf]


@given(u32, u32, st.integers(0, 32), u32)
def test_sring_round_trip(rsp_prod: int, req_event: int, outstanding: int, rsp_event: int) -> None:
    req_prod = (rsp_prod + outstanding) % L.U32
    raw = L.build_sring(req_prod, req_event, rsp_prod, rsp_event)
    assert len(raw) == 64
    d = L.decode_sring(raw + bytes(4032), entry_size=112)  # blkif-sized entries: 32 slots
    assert d.header == L.SringHdr(req_prod, req_event, rsp_prod, rsp_event)
    assert d.violations == ()


@given(st.integers(0, L.FLEX_MAX_ORDER), u32, u32, st.data())
def test_flex_round_trip(order: int, ic: int, oc: int, data: st.DataObject) -> None:
    size = L.flex_ring_size(order)
    ip = (ic + data.draw(st.integers(0, size))) % L.U32
    op = (oc + data.draw(st.integers(0, size))) % L.U32
    d = L.decode_flex(L.build_flex(ic, ip, oc, op, order))
    assert d.header.ring_order == order
    assert (d.header.in_cons, d.header.in_prod, d.header.out_cons, d.header.out_prod) == (
        ic, ip, oc, op)
    assert len(d.header.refs) == 1 << order
    assert d.violations == ()
    assert all(x.size == size for x in d.directions)


@settings(max_examples=300)
@given(st.binary(max_size=4200), st.binary(max_size=8192))
def test_decoders_never_raise_on_garbage(page: bytes, ring: bytes) -> None:
    for d in (L.decode_ivcom(page, ring, ring), L.decode_vchan(page), L.decode_sring(page, 64),
              L.decode_flex(page)):
        assert isinstance(d, L.Decoded)
        for v in d.violations:
            assert str(v)


@given(orders, u32, u32)
def test_index_distance_flagged_iff_beyond_size(order: int, prod: int, cons: int) -> None:
    d = L.decode_ivcom(L.build_ivcom(s2c_order=order, s2c={"prod": prod, "cons": cons},
                                     mode=L.IVCOM_MODE_STREAM))
    flagged = any(v.kind == L.ViolationKind.INDEX_DISTANCE for v in d.violations)
    assert flagged == ((prod - cons) % L.U32 > (1 << order))
