"""ivcom.kv against `ivcom-kv serve` on the sim: the sync and asyncio clients'
every call, errors as builtin exceptions, LIST across pages, a full store,
many asyncio calls at once; and the framing's pure functions."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import select
import struct
import subprocess
import time

import pytest
from api_helpers import Doms
from ivcom import sim as simmod
from ivcom.kv import (
    AsyncKVClient,
    KVBadRequestError,
    KVClient,
    KVError,
    KVNotFoundError,
    KVProtocolError,
    KVStats,
    KVStoreFullError,
    KVTooLargeError,
    Op,
    Status,
    _Requests,
    decode_reply,
    encode_request,
    parse_list,
    parse_stats,
)


def _serve(doms: Doms, name: str, *args: str) -> subprocess.Popen[str]:
    if not (simmod.build_dir() / "bin" / "ivcom-kv").exists():
        pytest.skip("ivcom-kv not built (make core)")
    p = doms.spawn_tool("ivcom-kv", "serve", name, *args, domid=doms.peer)
    assert p.stderr is not None
    deadline = time.monotonic() + 20
    line = ""
    while "serving" not in line:
        left = deadline - time.monotonic()
        assert left > 0 and select.select([p.stderr], [], [], left)[0], "no 'serving' line"
        line = p.stderr.readline()
        assert line, f"ivcom-kv serve exited {p.wait()}"
    return p


def test_sync_client(doms: Doms) -> None:
    _serve(doms, "kvs")
    with KVClient.connect(doms.peer, "kvs", timeout=20) as kv:
        kv.put("colour", b"blue")
        kv.put(b"bin\x00key", bytearray(b"\x00\x01"))
        assert kv.get("colour") == b"blue"
        assert kv.get(b"bin\x00key") == b"\x00\x01"
        kv.put("colour", memoryview(b"green"))
        assert kv.get("colour") == b"green"
        assert kv.list() == [b"bin\x00key", b"colour"]
        assert kv.list("col") == [b"colour"]
        kv.delete("colour")
        with pytest.raises(KeyError) as ki:
            kv.get("colour")
        assert isinstance(ki.value, KVNotFoundError) and ki.value.args[0] == b"colour"
        assert ki.value.status == Status.NOTFOUND
        with pytest.raises(KeyError):
            kv.delete("colour")
        with pytest.raises(ValueError) as vi:
            kv.get("")
        assert isinstance(vi.value, KVBadRequestError) and vi.value.status == Status.BADKEY
        with pytest.raises(KVTooLargeError):
            kv.put("k" * 513, b"")
        with pytest.raises(ValueError):
            kv.put("k", b"v" * kv.channel.max_msg)
        with pytest.raises(TypeError):
            kv.get(5)  # type: ignore[arg-type]
        st = kv.stats()
        assert isinstance(st, KVStats)
        assert st.keys == 1 and st.puts == 3 and st.dels == 2 and st.key_max == 512
        assert st.value_max == kv.channel.max_msg - 12 and st.bad_frames == 0
        assert kv.get("bin\x00key") == b"\x00\x01"
    assert kv.closed


def test_list_pages_and_full_store(doms: Doms) -> None:
    _serve(doms, "kvp", "--order", "12", "--memory", "96K")
    with KVClient.connect(doms.peer, "kvp", timeout=20) as kv:
        keys = [f"p/{i:03d}".ljust(200, "x").encode() for i in range(100)]
        for k in keys:
            kv.put(k, b"v")
        assert kv.list("p/") == keys
        assert kv.stats().lists == 5
        with pytest.raises(OSError) as oi:
            for i in range(1000):
                kv.put(f"big{i}", b"v" * 3000)
        assert isinstance(oi.value, KVStoreFullError) and oi.value.errno == errno.ENOSPC
        st = kv.stats()
        assert st.bytes_used <= st.bytes_budget == 96 * 1024
        assert kv.get("big0") == b"v" * 3000


def test_async_client(doms: Doms) -> None:
    _serve(doms, "kva")

    async def main() -> None:
        async with await AsyncKVClient.connect(doms.peer, "kva", timeout=20) as kv:
            await kv.put("a", b"1")
            assert await kv.get("a") == b"1"
            with pytest.raises(KeyError):
                await kv.get("b")
            # many calls at once: each gets its own reply
            await asyncio.gather(*(kv.put(f"k{i:03d}", str(i).encode()) for i in range(100)))
            got = await asyncio.gather(*(kv.get(f"k{i:03d}") for i in range(100)))
            assert got == [str(i).encode() for i in range(100)]
            assert len(await kv.list("k")) == 100
            await kv.delete("a")
            # a call cancelled while it waits leaves its reply behind: the
            # next call skips it (unless the reply was quicker than the cancel)
            for _ in range(20):
                task = asyncio.ensure_future(kv.get("k001"))
                await asyncio.sleep(0)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    assert await task == b"1"
                assert await kv.get("k002") == b"2"
            st = await kv.stats()
            assert st.keys == 100 and st.puts == 101
        assert kv.closed

    asyncio.run(main())


def test_framing_pure() -> None:
    msg = encode_request(Op.PUT, 7, b"key", b"value")
    assert msg == struct.pack("<BBHII", 2, 0, 3, 7, 5) + b"keyvalue"
    rep = decode_reply(struct.pack("<BBHII", 1, 0, 0, 9, 2) + b"hi")
    assert (rep.op, rep.status, rep.ident, rep.payload) == (1, 0, 9, b"hi")
    with pytest.raises(ConnectionError):
        decode_reply(b"short")
    with pytest.raises(KVProtocolError):
        decode_reply(struct.pack("<BBHII", 1, 0, 0, 9, 5) + b"hi")
    with pytest.raises(KVProtocolError):
        decode_reply(struct.pack("<BBHII", 1, 1, 0, 9, 1) + b"x")
    assert parse_list(b"\x01\x00a\x02\x00bc") == [b"a", b"bc"]
    with pytest.raises(KVProtocolError):
        parse_list(b"\x05\x00ab")
    assert parse_stats(struct.pack("<3Q", 4, 5, 6)) == KVStats(keys=4, bytes_used=5,
                                                               bytes_budget=6)
    assert parse_stats(struct.pack("<13Q", *range(13))).bad_frames == 11
    # a late reply of an earlier request is skipped, another one is an error
    late = struct.pack("<BBHII", 1, 0, 0, 4, 0)
    assert _Requests.check(Op.GET, 5, late, b"k") is None
    with pytest.raises(KVProtocolError):
        _Requests.check(Op.GET, 5, struct.pack("<BBHII", 1, 0, 0, 6, 0), b"k")
    with pytest.raises(KVProtocolError):
        _Requests.check(Op.GET, 5, struct.pack("<BBHII", 3, 0, 0, 5, 0), b"k")
    for status, exc in ((Status.NOTFOUND, KeyError), (Status.TOOLARGE, ValueError),
                        (Status.FULL, OSError), (Status.BADFRAME, ValueError),
                        (Status.BADOP, ValueError), (99, ConnectionError)):
        with pytest.raises(exc) as ei:
            _Requests.check(Op.GET, 5, struct.pack("<BBHII", 1, status, 0, 5, 0), b"k")
        assert isinstance(ei.value, KVError)
