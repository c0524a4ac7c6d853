# Fuzzing of libivcom: libFuzzer targets, their replay build and coverage.
# Included by the top-level Makefile; also usable alone from the top of
# the tree:  make -f tests/fuzz/fuzz.mk fuzz-build|fuzz|fuzz-replay
#
#   fuzz-build   libFuzzer binaries (clang, ASan+UBSan), the replay build
#                (plain main, ASan+UBSan, $(FUZZ_REPLAY_CC)), the coverage
#                build and the test-only ctypes library
#   fuzz         every target for $(FUZZ_SECONDS) s (default 60) on the
#                seeds + a working corpus under build/fuzz/corpus; prints
#                a table: execs/s and total execs per target, then line
#                and branch coverage of ring.c, chan*.c (the channel code,
#                split by concern) and xs_ring.c
#   fuzz-coverage  that coverage table alone, from the seeds and the
#                working corpus (FUZZ_SEEDS_ONLY=1: the seeds alone, as
#                the replay runs them)
#   fuzz-replay  the seed corpus and tests/fuzz/crashes/ through the
#                replay build (any sanitizer report or invariant = failure)

FUZZ_ROOT       ?= $(CURDIR)
FUZZ_OUT        ?= $(FUZZ_ROOT)/build/fuzz
FUZZ_SECONDS    ?= 60
FUZZ_CLANG      ?= clang
FUZZ_REPLAY_CC  ?= cc
FUZZ_PROFDATA   ?= $(shell command -v llvm-profdata-14 || command -v llvm-profdata)
FUZZ_COV        ?= $(shell command -v llvm-cov-14 || command -v llvm-cov)
FUZZ_ARGS       ?=

FUZZ_TARGETS    := ring_consumer ring_producer msg_header channel_attach chan_faults \
                   xs_client kv_request svc_request
FUZZ_DIR        := $(FUZZ_ROOT)/tests/fuzz
FUZZ_CORE       := $(FUZZ_ROOT)/ivcom-core/src
# The kv service's engine and request handler (shared by the tiny guest's
# kv app and ivcom-kv).
FUZZ_KV         := $(FUZZ_ROOT)/minios-app/apps/kv
FUZZ_CFLAGS     := -std=gnu11 -g -O1 -Wall -Wextra -Wno-type-limits -D_GNU_SOURCE \
                   -fno-omit-frame-pointer \
                   -I$(FUZZ_ROOT)/ivcom-core/include -I$(FUZZ_CORE) -I$(FUZZ_DIR)/c \
                   -I$(FUZZ_KV)
FUZZ_SAN        := -fsanitize=address,undefined -fno-sanitize-recover=all
# The channel code, however many files it is split into (chan_xs.c too).
FUZZ_CHAN       := $(sort $(wildcard $(FUZZ_CORE)/chan*.c))
FUZZ_COVERED    := $(FUZZ_CORE)/ring.c $(FUZZ_CHAN) $(FUZZ_CORE)/xs_ring.c \
                   $(FUZZ_KV)/kv_store.c $(FUZZ_KV)/kv_serve.c
FUZZ_SEEDS_ONLY ?=

# Library sources each target links (the real objects, no platform backend).
FUZZ_SRC_ring_consumer  := $(FUZZ_CORE)/ring.c
FUZZ_SRC_ring_producer  := $(FUZZ_CORE)/ring.c
FUZZ_SRC_msg_header     := $(FUZZ_CORE)/ring.c
FUZZ_SRC_channel_attach := $(FUZZ_CORE)/ring.c $(FUZZ_CHAN) \
                           $(addprefix $(FUZZ_CORE)/,error.c wait_linux.c platform.c)
FUZZ_LD_channel_attach  := -Wl,--wrap=ivcom_now_ns
FUZZ_SRC_chan_faults    := $(FUZZ_SRC_channel_attach)
FUZZ_LD_chan_faults     := -Wl,--wrap=ivcom_now_ns,--wrap=ivcom_os_nonce,--wrap=calloc
FUZZ_SRC_xs_client      := $(FUZZ_CORE)/xs_ring.c
FUZZ_SRC_svc_request    := $(FUZZ_SRC_channel_attach)
FUZZ_LD_svc_request     := -Wl,--wrap=ivcom_now_ns,--wrap=ivcom_os_nonce \
                           -Wl,--wrap=ivcom_os_pid,--wrap=ivcom_os_pid_alive
FUZZ_SRC_kv_request     := $(FUZZ_KV)/kv_store.c $(FUZZ_KV)/kv_serve.c
FUZZ_DEPS               := $(wildcard $(FUZZ_DIR)/c/*.h $(FUZZ_CORE)/*.h \
                             $(FUZZ_ROOT)/ivcom-core/include/ivcom/*.h $(FUZZ_KV)/*.h)

FUZZ_LF_BINS     := $(FUZZ_TARGETS:%=$(FUZZ_OUT)/lf/%)
FUZZ_REPLAY_BINS := $(FUZZ_TARGETS:%=$(FUZZ_OUT)/replay/%)
FUZZ_COV_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_OUT)/cov/%)
FUZZ_TESTAPI     := $(FUZZ_OUT)/libivcom-testapi.so

.PHONY: fuzz-build fuzz fuzz-replay fuzz-coverage fuzz-clean

fuzz-build: $(FUZZ_LF_BINS) $(FUZZ_REPLAY_BINS) $(FUZZ_COV_BINS) $(FUZZ_TESTAPI)

.SECONDEXPANSION:
$(FUZZ_OUT)/lf/%: $(FUZZ_DIR)/c/%.c $$(FUZZ_SRC_$$*) $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -o $@ $< $(FUZZ_SRC_$*) $(FUZZ_LD_$*)

$(FUZZ_OUT)/replay/%: $(FUZZ_DIR)/c/%.c $(FUZZ_DIR)/c/fuzz_main.c $$(FUZZ_SRC_$$*) $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_REPLAY_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -o $@ $< $(FUZZ_DIR)/c/fuzz_main.c \
	    $(FUZZ_SRC_$*) $(FUZZ_LD_$*)

$(FUZZ_OUT)/cov/%: $(FUZZ_DIR)/c/%.c $(FUZZ_DIR)/c/fuzz_main.c $$(FUZZ_SRC_$$*) $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CLANG) $(FUZZ_CFLAGS) -fprofile-instr-generate -fcoverage-mapping -o $@ $< \
	    $(FUZZ_DIR)/c/fuzz_main.c $(FUZZ_SRC_$*) $(FUZZ_LD_$*)

$(FUZZ_TESTAPI): $(FUZZ_DIR)/c/testapi.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CLANG) $(FUZZ_CFLAGS) -fPIC -shared -fvisibility=hidden -o $@ $<

# One libFuzzer process per target, one after the other (the other core
# stays free).  The working corpus grows under build/; the committed
# seeds are only read.  Crashes land in build/fuzz/artifacts/.
fuzz: fuzz-build
	@mkdir -p $(FUZZ_OUT)/artifacts $(FUZZ_OUT)/logs
	@set -e; total=0; table=$(FUZZ_OUT)/logs/table.txt; \
	printf '%-16s %12s %10s %8s %5s\n' target execs execs/s corpus exit > $$table; \
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_OUT)/corpus/$$t; \
	    echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	    rc=0; $(FUZZ_OUT)/lf/$$t $(FUZZ_OUT)/corpus/$$t $(FUZZ_DIR)/corpus/$$t \
	        -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/artifacts/$$t- \
	        $(FUZZ_ARGS) > $(FUZZ_OUT)/logs/$$t.log 2>&1 || rc=$$?; \
	    execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_OUT)/logs/$$t.log); \
	    rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $(FUZZ_OUT)/logs/$$t.log); \
	    ncorp=$$(ls $(FUZZ_OUT)/corpus/$$t | wc -l); \
	    printf '%-16s %12s %10s %8s %5s\n' \
	        $$t "$${execs:-?}" "$${rate:-?}" $$ncorp $$rc | tee -a $$table; \
	    total=$$((total + $${execs:-0})); \
	    if [ $$rc -ne 0 ]; then \
	        tail -n 30 $(FUZZ_OUT)/logs/$$t.log; \
	        echo "fuzz: $$t found a failure (reproducer in $(FUZZ_OUT)/artifacts/)"; \
	        exit 1; \
	    fi; \
	done; \
	printf '%-16s %12s\n' total $$total >> $$table; \
	echo "== fuzz: executions per target"; cat $$table
	@$(MAKE) -f $(FUZZ_DIR)/fuzz.mk --no-print-directory FUZZ_ROOT=$(FUZZ_ROOT) \
	    FUZZ_OUT=$(FUZZ_OUT) fuzz-coverage

# Line and branch coverage of the core by everything in the corpora (the
# seeds alone with FUZZ_SEEDS_ONLY=1).  The full llvm-cov report is kept
# in profile/report.txt; uncovered lines: llvm-cov show, same arguments.
FUZZ_COV_ARGS = $(FUZZ_OUT)/cov/channel_attach \
    $(foreach t,$(filter-out channel_attach,$(FUZZ_TARGETS)),-object $(FUZZ_OUT)/cov/$(t)) \
    -instr-profile=$(FUZZ_OUT)/profile/all.profdata

fuzz-coverage: $(FUZZ_COV_BINS)
	@if [ -z "$(FUZZ_PROFDATA)" ] || [ -z "$(FUZZ_COV)" ]; then \
	    echo "fuzz-coverage: llvm-profdata/llvm-cov not found"; exit 1; fi
	@rm -rf $(FUZZ_OUT)/profile && mkdir -p $(FUZZ_OUT)/profile
	@for t in $(FUZZ_TARGETS); do \
	    dirs=$(FUZZ_DIR)/corpus/$$t; \
	    if [ -z "$(FUZZ_SEEDS_ONLY)" ]; then \
	        mkdir -p $(FUZZ_OUT)/corpus/$$t; dirs="$$dirs $(FUZZ_OUT)/corpus/$$t"; fi; \
	    LLVM_PROFILE_FILE=$(FUZZ_OUT)/profile/$$t-%p.profraw \
	        $(FUZZ_OUT)/cov/$$t $$dirs \
	        > /dev/null 2>&1 || { echo "fuzz-coverage: $$t failed on its corpus"; exit 1; }; \
	done
	@$(FUZZ_PROFDATA) merge -sparse -o $(FUZZ_OUT)/profile/all.profdata \
	    $(FUZZ_OUT)/profile/*.profraw
	@$(FUZZ_COV) report $(FUZZ_COV_ARGS) $(FUZZ_COVERED) > $(FUZZ_OUT)/profile/report.txt
	@echo "== coverage of the core by the $(if $(FUZZ_SEEDS_ONLY),seed corpora,seed and working corpora)"
	@awk 'BEGIN { printf "%-16s %7s %7s %8s %9s %7s %8s\n", "file", "lines", "missed", \
	        "cover", "branches", "missed", "cover" } \
	    NF == 13 && $$1 != "Filename" { printf "%-16s %7s %7s %8s %9s %7s %8s\n", \
	        $$1, $$8, $$9, $$10, $$11, $$12, $$13 }' $(FUZZ_OUT)/profile/report.txt

fuzz-replay: $(FUZZ_REPLAY_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    dirs=$(FUZZ_DIR)/corpus/$$t; \
	    if [ -d $(FUZZ_DIR)/crashes/$$t ]; then dirs="$$dirs $(FUZZ_DIR)/crashes/$$t"; fi; \
	    IVCOM_FUZZ_MISUSE=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	        $(FUZZ_OUT)/replay/$$t $$dirs \
	        2>$(FUZZ_OUT)/replay/$$t.log || { tail -n 30 $(FUZZ_OUT)/replay/$$t.log; \
	        echo "fuzz-replay: $$t failed"; exit 1; }; \
	    echo "fuzz-replay: $$t: $$(tail -n 1 $(FUZZ_OUT)/replay/$$t.log)"; \
	done

fuzz-clean:
	rm -rf $(FUZZ_OUT)
