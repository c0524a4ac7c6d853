# The drop-in libxenvchan: build/core/lib/libxenvchan.so.4.17, with the
# soname and versioned symbols (VERS_4.17.0) of Debian's libxenvchan
# 4.17, on libivcom's vchan protocol.  Included by ivcom-core/Makefile.
#
#   LD_LIBRARY_PATH=build/core/lib some-vchan-program ...
#
# Needs Debian's <libxenvchan.h> (libxen-dev): the handle's ABI is taken
# from it.  Not built with sanitizers (it is loaded into programs that
# are not).
COMPAT_SONAME := libxenvchan.so.4.17
COMPAT_LIB    := $(O)/lib/$(COMPAT_SONAME)

ifeq ($(wildcard /usr/include/libxenvchan.h),)
COMPAT_TARGETS :=
else ifneq ($(SAN)$(TSAN),)
COMPAT_TARGETS :=
else
COMPAT_TARGETS := $(COMPAT_LIB)
endif

# On the archive, not on $(LIB_OBJS): this file is read before the Makefile
# sets LIB_OBJS, and a prerequisite list is expanded as it is read.
$(COMPAT_LIB): vchan-compat/libxenvchan.c vchan-compat/libxenvchan.map $(O)/libivcom.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(COMPAT_SONAME) \
	    -Wl,--version-script=vchan-compat/libxenvchan.map $(LDFLAGS) -o $@ \
	    vchan-compat/libxenvchan.c $(O)/libivcom.a $(XEN_LIBS) $(SIM_LIBS) -lpthread

.PHONY: vchan-compat
vchan-compat: $(COMPAT_TARGETS)
