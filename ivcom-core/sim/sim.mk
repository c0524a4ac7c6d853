# sim platform: processes as domains, simhv + the real xenstored.
# Included by ivcom-core/Makefile (paths relative to ivcom-core/).
#
#   make -C ivcom-core O=../build/core sim          simhv, shim, tests
#   make -C ivcom-core O=../build/core sim-test     ... and run the tests
#   make -C ivcom-core O=../build/core SAN=1 sim-test   (ASan + UBSan)
#
# sim-test needs only the files below, not the rest of the core.

.DEFAULT_GOAL := all

SIM_LIB_SRCS := sim/plat_sim.c sim/sim_io.c src/xs_ring.c
SIM_LIBS     := -lpthread
SIM_TARGETS  := $(O)/bin/ivcom-simhv $(O)/lib/libivcom-xsshim.so

SIM_TEST_DIR  := ../tests/c
SIM_TEST_SRCS := $(wildcard $(SIM_TEST_DIR)/sim_*.c)
SIM_TESTS     := $(SIM_TEST_SRCS:$(SIM_TEST_DIR)/%.c=$(O)/tests/%)
SIM_OBJS      := $(SIM_LIB_SRCS:%.c=$(O)/obj/%.o)
SIM_XEN_INC   := /usr/include/xen

$(O)/bin/ivcom-simhv: sim/simhv.c $(O)/obj/sim/sim_io.o $(O)/obj/src/xs_ring.o sim/sim.h src/xs_ring.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Isim -o $@ sim/simhv.c $(O)/obj/sim/sim_io.o $(O)/obj/src/xs_ring.o

# The shim is loaded into xenstored, which is not built with sanitizers:
# build it without them (and without -fvisibility=hidden's effect on the
# interposed symbols, which are marked default explicitly).
SIM_SHIM_CFLAGS := $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS))
$(O)/lib/libivcom-xsshim.so: sim/xsshim.c sim/sim_io.c sim/sim.h
	@mkdir -p $(dir $@)
	$(CC) $(SIM_SHIM_CFLAGS) -Isim -shared -o $@ sim/xsshim.c sim/sim_io.c -ldl

$(O)/obj/sim/%.o: sim/%.c sim/sim.h src/xs_ring.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isim -MMD -MP -c -o $@ $<

# xs_ring.c must stay freestanding: compile it the way the tiny guest does.
$(O)/obj/xs_ring-freestanding.o: src/xs_ring.c src/xs_ring.h sim/freestanding/stdint.h
	@mkdir -p $(O)/fsinc $(dir $@)
	ln -sfn $(SIM_XEN_INC) $(O)/fsinc/xen
	$(CC) -std=gnu11 $(WARN) -O2 -ffreestanding -nostdinc -fno-builtin \
	    -Isim/freestanding -I$(O)/fsinc -Isrc -c -o $@ src/xs_ring.c

$(O)/tests/sim_%: $(SIM_TEST_DIR)/sim_%.c $(SIM_OBJS) sim/sim_test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isim $(LDFLAGS) -o $@ $< $(SIM_OBJS) $(SIM_LIBS)

sim: $(SIM_TARGETS) $(SIM_TESTS) $(O)/obj/xs_ring-freestanding.o

sim-test: sim
	sh sim/run-tests.sh $(O) $(SIM_TESTS)

.PHONY: sim sim-test
