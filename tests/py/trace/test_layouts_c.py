"""The construct twins match the C structs, offset for offset.

Compiles ivcom-core/tools/ivcom-layout.c with the system compiler and checks
every field it prints against toolkit/src/ivcom/layouts/, both ways."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from ivcom import layouts as L

ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "ivcom-core" / "tools" / "ivcom-layout.c"
XEN_STRUCTS = {"ring_shared", "vchan_interface", "sring_hdr", "flex_data_intf"}


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory: pytest.TempPathFactory) -> dict:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler on PATH")
    exe = tmp_path_factory.mktemp("layout") / "ivcom-layout"
    subprocess.run(
        [cc, "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wstrict-prototypes",
         "-Wmissing-prototypes", f"-I{ROOT / 'ivcom-core' / 'include'}", "-o", str(exe),
         str(TOOL)],
        check=True,
    )
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def test_every_ivcom_struct_is_printed(c_layout: dict) -> None:
    for name in ("ivcom_prod_line", "ivcom_cons_line", "ivcom_ctrl", "ivcom_msg_hdr"):
        assert name in c_layout["structs"], name


def test_xen_structs_are_printed(c_layout: dict) -> None:
    if not Path("/usr/include/xen/io/libxenvchan.h").exists():
        pytest.skip("Xen public headers (libxen-dev) not installed")
    assert set(c_layout["structs"]) >= XEN_STRUCTS


@pytest.mark.parametrize("name", sorted(L.LAYOUTS))
def test_sizes_match(c_layout: dict, name: str) -> None:
    if name not in c_layout["structs"]:
        pytest.skip(f"{name}: ivcom-layout was built without the Xen headers")
    assert L.LAYOUTS[name].sizeof() == c_layout["structs"][name]["size"]


@pytest.mark.parametrize("name", sorted(L.LAYOUTS))
def test_fields_match_both_ways(c_layout: dict, name: str) -> None:
    if name not in c_layout["structs"]:
        pytest.skip(f"{name}: ivcom-layout was built without the Xen headers")
    c_fields = {k: (v["offset"], v["size"]) for k, v in c_layout["structs"][name]["fields"].items()}
    py_fields = L.layout_fields(L.LAYOUTS[name])
    assert py_fields == c_fields


@pytest.mark.parametrize("name", sorted(L.TAILS))
def test_flexible_tails_match(c_layout: dict, name: str) -> None:
    if name not in c_layout["structs"]:
        pytest.skip(f"{name}: ivcom-layout was built without the Xen headers")
    tail = c_layout["structs"][name]["tail"]
    assert (tail["name"], tail["offset"]) == L.TAILS[name]


def test_constants_match(c_layout: dict) -> None:
    c = c_layout["constants"]
    assert c["IVCOM_WIRE_MAGIC"] == L.IVCOM_WIRE_MAGIC
    assert c["IVCOM_WIRE_VERSION"] == L.IVCOM_WIRE_VERSION
    assert c["IVCOM_PAGE_SIZE"] == L.PAGE_SIZE
    assert c["IVCOM_CACHELINE"] == L.CACHELINE
    assert c["IVCOM_RING_ORDER_MIN"] == L.IVCOM_RING_ORDER_MIN
    assert c["IVCOM_RING_ORDER_MAX"] == L.IVCOM_RING_ORDER_MAX
    assert c["IVCOM_MODE_MESSAGE"] == L.IVCOM_MODE_MESSAGE
    assert c["IVCOM_MODE_STREAM"] == L.IVCOM_MODE_STREAM
    assert c["IVCOM_LIVE_DEAD"] == L.IVCOM_LIVE_DEAD
    assert c["IVCOM_LIVE_UP"] == L.IVCOM_LIVE_UP
    assert c["IVCOM_LIVE_CLOSED"] == L.IVCOM_LIVE_CLOSED
    assert c["IVCOM_CTRL_GREFS_OFFSET"] == L.IVCOM_CTRL_GREFS_OFFSET
    assert c["IVCOM_CTRL_MAX_GREFS"] == L.IVCOM_CTRL_MAX_GREFS
    assert c["IVCOM_MSG_ALIGN"] == L.IVCOM_MSG_ALIGN
    assert c["IVCOM_MSG_DATA"] == L.IVCOM_MSG_DATA
    assert c["IVCOM_MSG_PAD"] == L.IVCOM_MSG_PAD
    if "VCHAN_NOTIFY_WRITE" in c:
        assert c["VCHAN_NOTIFY_WRITE"] == L.VCHAN_NOTIFY_WRITE
        assert c["VCHAN_NOTIFY_READ"] == L.VCHAN_NOTIFY_READ


def test_tool_output_is_compiler_independent(c_layout: dict, tmp_path: Path) -> None:
    """gcc and clang must lay the structs out identically (both build it)."""
    other = shutil.which("clang")
    if other is None:
        pytest.skip("clang not installed")
    exe = tmp_path / "ivcom-layout-clang"
    subprocess.run([other, "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                    f"-I{ROOT / 'ivcom-core' / 'include'}", "-o", str(exe), str(TOOL)],
                   check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    assert json.loads(out) == c_layout
