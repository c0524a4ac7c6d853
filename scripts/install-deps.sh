#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: Debian packages (as root)
# and a Python venv under build/.  Downloads are cached under build/cache.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${IVCOM_BUILD:-$top/build}
mkdir -p "$build/cache/pip"

apt_pkgs=(build-essential pkg-config clang libclang-rt-14-dev valgrind
          xen-utils-4.17 libxen-dev xenstore-utils qemu-system-x86
          busybox-static cpio python3 python3-venv python3-dev
          util-linux iproute2)
missing=()
for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv=$build/venv
stamp=$venv/.ivcom-deps
want=$(sha256sum "$top/pyproject.toml" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    # Debian's interpreter, so that the venv can see python3-bpfcc where it
    # is installed (the lab's dom0 image, not the host).
    /usr/bin/python3 -m venv --system-site-packages "$venv"
    PIP_CACHE_DIR=$build/cache/pip "$venv/bin/pip" install -q --upgrade pip
    PIP_CACHE_DIR=$build/cache/pip "$venv/bin/pip" install -q -e "$top[test]"
    echo "$want" > "$stamp"
fi
