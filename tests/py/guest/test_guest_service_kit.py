"""The service kit (minios-app/apps/common/ivsvc.c) and what is built on it.

Host-only checks (the lab proves the images on Xen): the echo, kv and
template images carry the kit, libivcom's service API and the kernel's
multi-port poll; the kv service domain stays within its image target;
`make new-app` writes a new app from the one template and refuses to
overwrite or to take a bad name; `make cfg` fills the one config template
with a service's words and memory.  The kit's bookkeeping and the word
check are host unit tests (tests/c/guest_ivsvc_tab.c,
tests/c/guest_cmdline_words.c, run by test_guest_host_units.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from guest_helpers import APP_DIR, OUT, run_make

KIT_APPS = ("echo", "kv", "template")
KV_IMAGE_TARGET = 100 * 1024        # issue 17: the tiny kv domain, at most 100 KiB


def symbols(path: Path) -> set[str]:
    if shutil.which("nm") is None:
        pytest.skip("nm (binutils) not installed")
    out = subprocess.run(["nm", str(path)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@pytest.mark.parametrize("app", KIT_APPS)
def test_kit_apps_link_the_service_loop(guest_images: Path, app: str) -> None:
    syms = symbols(guest_images / f"ivcom-guest-{app}.elf")
    for needed in ("ivsvc_run", "ivsvc_reply", "ivcom_service_open", "ivcom_service_accept",
                   "ivcom_service_close", "ivcom_msg_try_peek", "evtchn_wait_any",
                   "xenbus_watch_pending", "xenbus_event_port", "cmdline_check",
                   "ivsvc_tab_ports"):
        assert needed in syms, f"{app}: {needed} missing"


@pytest.mark.parametrize("app", ("pingpong", "source", "sink", "kvclient"))
def test_one_peer_apps_stay_without_the_kit(guest_images: Path, app: str) -> None:
    syms = symbols(guest_images / f"ivcom-guest-{app}.elf")
    assert "ivsvc_run" not in syms and "ivcom_service_open" not in syms
    # ...but they check their words too.
    assert "cmdline_check" in syms


def test_kvclient_speaks_kv_over_the_minios_backend(guest_images: Path) -> None:
    syms = symbols(guest_images / "ivcom-guest-kvclient.elf")
    assert {"ivcom_plat_minios_ops", "ivcom_connect", "ivcom_send", "ivcom_recv"} <= syms
    assert "kv_serve" not in syms                  # a client: no store linked in


def test_kv_image_within_target(guest_images: Path) -> None:
    size = (guest_images / "ivcom-guest-kv.elf").stat().st_size
    assert size <= KV_IMAGE_TARGET, f"ivcom-guest-kv.elf is {size} bytes"


def test_template_is_an_image(guest_images: Path) -> None:
    assert (guest_images / "ivcom-guest-template.elf").is_file()
    assert not (APP_DIR / "apps" / "template.c").exists(), \
        "the template lives in apps/template/, not among the apps"


def test_new_app_from_the_template(tmp_path: Path) -> None:
    proc = run_make("new-app", "NAME=tally", f"NEWAPP_DIR={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    src = (tmp_path / "tally.c").read_text()
    tmpl = (APP_DIR / "apps" / "template" / "template.c").read_text()
    assert '#define APP_NAME "tally"' in src
    assert " * tally: a service domain (made from apps/template/template.c)." in src
    assert "template" not in src.replace("apps/template/template.c", "")
    # Only the name and the header paragraph changed.
    assert src.count("\n") < tmpl.count("\n")
    assert src.split("#include", 1)[1] == \
        tmpl.split("#include", 1)[1].replace('"template"', '"tally"')
    # Never overwritten.
    (tmp_path / "tally.c").write_text("mine\n")
    proc = run_make("new-app", "NAME=tally", f"NEWAPP_DIR={tmp_path}")
    assert proc.returncode != 0 and "exists" in proc.stderr
    assert (tmp_path / "tally.c").read_text() == "mine\n"


@pytest.mark.parametrize("name", ["", "Foo", "9lives", "a-b", "template", "noapp", "x/y"])
def test_new_app_refuses_bad_names(tmp_path: Path, name: str) -> None:
    proc = run_make("new-app", f"NAME={name}", f"NEWAPP_DIR={tmp_path}")
    assert proc.returncode != 0
    assert "NAME must be" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_cfg_for_a_service_domain(guest_images: Path) -> None:
    proc = run_make("cfg", "APP=kv", "NAME=unit-kvsvc",
                    "EXTRA=name=kv allow=5,6,7,8 max=8 clients=4", "MEMORY=8")
    assert proc.returncode == 0, proc.stderr
    cfg = (OUT / "unit-kvsvc.cfg").read_text()
    assert 'name = "unit-kvsvc"' in cfg
    assert f'kernel = "{OUT / "ivcom-guest-kv.elf"}"' in cfg
    assert 'extra = "name=kv allow=5,6,7,8 max=8 clients=4"' in cfg
    assert "memory = 8" in cfg and "memory = 4" not in cfg
    assert "@" not in cfg
    # The template itself keeps its 4 MiB.
    assert "memory = 4" in (APP_DIR / "guest.cfg.in").read_text()
