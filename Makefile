# IVCOM: top-level entry points.  `make demo` and `make test` install what
# they need (Debian packages as root, a Python venv under build/).
BUILD   := $(CURDIR)/build
PY      := $(BUILD)/venv/bin/python
CORE    := $(MAKE) -C ivcom-core --no-print-directory
JOBS    ?= 2
PYTEST_ARGS ?=

.PHONY: all deps build core core-san guest test ctest pytest bench chaos demo demo-sim fuzz clean \
        install uninstall

all: build

deps:
	@bash scripts/install-deps.sh

core:
	@$(CORE) -j$(JOBS) O=$(BUILD)/core all tests

# ASan+UBSan build: the C tests run against this one.
core-san:
	@$(CORE) -j$(JOBS) O=$(BUILD)/core-san SAN=1 all tests

guest:
	@if [ -f minios-app/Makefile ]; then \
		$(MAKE) -C minios-app --no-print-directory O=$(BUILD)/guest && \
		$(MAKE) -C minios-app --no-print-directory O=$(BUILD)/guest pvh; fi

build: deps core core-san guest

include tests/fuzz/fuzz.mk

test: build fuzz-build
	$(PY) -m pytest $(PYTEST_ARGS)

bench: build
	$(PY) -m ivcom bench --out results

# The long chaos run in the lab (make test runs 75 s of it).
chaos: build
	CHAOS_SECONDS=$${CHAOS_SECONDS:-600} $(PY) -m pytest tests/py/lab/test_lab_chaos.py

demo: build
	$(PY) -m ivcom demo

demo-sim: build
	$(PY) -m ivcom demo --sim

# make install [PREFIX=/usr/local] [DESTDIR=]: libivcom (static, shared),
# its headers and ivcom.pc, the tools and every man page (doc/man).  The
# Python package and its commands: pip install .
install uninstall:
	@$(CORE) -j$(JOBS) O=$(BUILD)/core MAN_EXTRA="ivcom ivcom-trace" $@

clean:
	rm -rf $(BUILD)/core $(BUILD)/core-san $(BUILD)/guest
