/* SPDX-License-Identifier: MIT */
/*
 * ivcom-layout: print the offset and size of every field of every shared
 * structure we speak, as one JSON object on stdout.
 *
 * The Python twins in toolkit/src/ivcom/layouts.py are checked against this
 * output by tests/py/trace/test_layouts_c.py, so the two can never drift.
 *
 *   {"structs": {"<name>": {"size": N, "fields": {"<field>": {"offset": O,
 *    "size": S}, ...}, "tail": {"name": "<flexible array>", "offset": O}}},
 *    "constants": {"<NAME>": V, ...}}
 *
 * Nested members are named with a dot ("s2c_prod.prod").  The Xen structs
 * (libxenvchan's vchan_interface, io/ring.h's shared ring header and flex
 * ring indexes page) come from the installed Xen public headers when they
 * are present; without them only the IVCOM ABI is printed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ivcom/wire.h"

#if defined(__has_include)
# if __has_include(<xen/io/ring.h>) && __has_include(<xen/io/libxenvchan.h>)
#  define HAVE_XEN_HEADERS 1
# endif
#endif

#ifdef HAVE_XEN_HEADERS
# include <xen/xen.h>
# include <xen/grant_table.h>
# include <xen/io/ring.h>
# include <xen/io/libxenvchan.h>
/* A concrete instance of each generic ring, only to measure its layout;
 * the flex ring's inline helpers come along unused. */
DEFINE_RING_TYPES(probe, uint64_t, uint64_t);
# pragma GCC diagnostic push
# pragma GCC diagnostic ignored "-Wunused-function"
DEFINE_XEN_FLEX_RING_AND_INTF(probe_flex);
# pragma GCC diagnostic pop
#endif

static const char *sep;

static void struct_begin(const char *name, size_t size, int first)
{
    printf("%s\n    \"%s\": {\"size\": %zu, \"fields\": {", first ? "" : ",",
           name, size);
    sep = "";
}

static void field(const char *name, size_t offset, size_t size)
{
    printf("%s\n      \"%s\": {\"offset\": %zu, \"size\": %zu}", sep, name,
           offset, size);
    sep = ",";
}

static void struct_end(const char *tail, size_t tail_offset)
{
    printf("\n    }");
    if (tail)
        printf(", \"tail\": {\"name\": \"%s\", \"offset\": %zu}", tail,
               tail_offset);
    printf("}");
}

/* F(struct type, member designator): the designator may be nested. */
#define F(type, member) \
    field(#member, offsetof(type, member), sizeof(((type *)0)->member))

static void constant(const char *name, unsigned long value)
{
    printf("%s\n    \"%s\": %lu", sep, name, value);
    sep = ",";
}

#define C(name) constant(#name, (unsigned long)(name))


int main(void)
{
    printf("{\n  \"structs\": {");

    struct_begin("ivcom_prod_line", sizeof(struct ivcom_prod_line), 1);
    F(struct ivcom_prod_line, prod);
    F(struct ivcom_prod_line, cons_event);
    F(struct ivcom_prod_line, notify_count);
    F(struct ivcom_prod_line, wait_count);
    F(struct ivcom_prod_line, pad);
    struct_end(NULL, 0);

    struct_begin("ivcom_cons_line", sizeof(struct ivcom_cons_line), 0);
    F(struct ivcom_cons_line, cons);
    F(struct ivcom_cons_line, prod_event);
    F(struct ivcom_cons_line, notify_count);
    F(struct ivcom_cons_line, wait_count);
    F(struct ivcom_cons_line, pad);
    struct_end(NULL, 0);

    struct_begin("ivcom_ctrl", sizeof(struct ivcom_ctrl), 0);
    F(struct ivcom_ctrl, magic);
    F(struct ivcom_ctrl, version);
    F(struct ivcom_ctrl, mode);
    F(struct ivcom_ctrl, s2c_order);
    F(struct ivcom_ctrl, c2s_order);
    F(struct ivcom_ctrl, server_live);
    F(struct ivcom_ctrl, client_live);
    F(struct ivcom_ctrl, reserved0);
    F(struct ivcom_ctrl, nr_grefs);
    F(struct ivcom_ctrl, flags);
    F(struct ivcom_ctrl, reserved1);
    F(struct ivcom_ctrl, nonce);
    F(struct ivcom_ctrl, pad0);
    F(struct ivcom_ctrl, s2c_prod);
    F(struct ivcom_ctrl, s2c_prod.prod);
    F(struct ivcom_ctrl, s2c_prod.cons_event);
    F(struct ivcom_ctrl, s2c_prod.notify_count);
    F(struct ivcom_ctrl, s2c_prod.wait_count);
    F(struct ivcom_ctrl, s2c_prod.pad);
    F(struct ivcom_ctrl, s2c_cons);
    F(struct ivcom_ctrl, s2c_cons.cons);
    F(struct ivcom_ctrl, s2c_cons.prod_event);
    F(struct ivcom_ctrl, s2c_cons.notify_count);
    F(struct ivcom_ctrl, s2c_cons.wait_count);
    F(struct ivcom_ctrl, s2c_cons.pad);
    F(struct ivcom_ctrl, c2s_prod);
    F(struct ivcom_ctrl, c2s_prod.prod);
    F(struct ivcom_ctrl, c2s_prod.cons_event);
    F(struct ivcom_ctrl, c2s_prod.notify_count);
    F(struct ivcom_ctrl, c2s_prod.wait_count);
    F(struct ivcom_ctrl, c2s_prod.pad);
    F(struct ivcom_ctrl, c2s_cons);
    F(struct ivcom_ctrl, c2s_cons.cons);
    F(struct ivcom_ctrl, c2s_cons.prod_event);
    F(struct ivcom_ctrl, c2s_cons.notify_count);
    F(struct ivcom_ctrl, c2s_cons.wait_count);
    F(struct ivcom_ctrl, c2s_cons.pad);
    struct_end("grefs", offsetof(struct ivcom_ctrl, grefs));

    struct_begin("ivcom_msg_hdr", sizeof(struct ivcom_msg_hdr), 0);
    F(struct ivcom_msg_hdr, len);
    F(struct ivcom_msg_hdr, type);
    F(struct ivcom_msg_hdr, reserved);
    struct_end(NULL, 0);

#ifdef HAVE_XEN_HEADERS
    struct_begin("ring_shared", sizeof(struct ring_shared), 0);
    F(struct ring_shared, cons);
    F(struct ring_shared, prod);
    struct_end(NULL, 0);

    struct_begin("vchan_interface", sizeof(struct vchan_interface), 0);
    F(struct vchan_interface, left);
    F(struct vchan_interface, left.cons);
    F(struct vchan_interface, left.prod);
    F(struct vchan_interface, right);
    F(struct vchan_interface, right.cons);
    F(struct vchan_interface, right.prod);
    F(struct vchan_interface, left_order);
    F(struct vchan_interface, right_order);
    F(struct vchan_interface, cli_live);
    F(struct vchan_interface, srv_live);
    F(struct vchan_interface, cli_notify);
    F(struct vchan_interface, srv_notify);
    struct_end("grants", offsetof(struct vchan_interface, grants));

    /* The shared ring header: everything before the first entry. */
    struct_begin("sring_hdr", offsetof(struct probe_sring, ring), 0);
    F(struct probe_sring, req_prod);
    F(struct probe_sring, req_event);
    F(struct probe_sring, rsp_prod);
    F(struct probe_sring, rsp_event);
    F(struct probe_sring, pvt);
    F(struct probe_sring, __pad);
    struct_end("ring", offsetof(struct probe_sring, ring));

    struct_begin("flex_data_intf", sizeof(struct probe_flex_data_intf), 0);
    F(struct probe_flex_data_intf, in_cons);
    F(struct probe_flex_data_intf, in_prod);
    F(struct probe_flex_data_intf, pad1);
    F(struct probe_flex_data_intf, out_cons);
    F(struct probe_flex_data_intf, out_prod);
    F(struct probe_flex_data_intf, pad2);
    F(struct probe_flex_data_intf, ring_order);
    struct_end("ref", offsetof(struct probe_flex_data_intf, ref));
#endif

    printf("\n  },\n  \"constants\": {");
    sep = "";
    C(IVCOM_WIRE_MAGIC);
    C(IVCOM_WIRE_VERSION);
    C(IVCOM_PAGE_SIZE);
    C(IVCOM_CACHELINE);
    C(IVCOM_RING_ORDER_MIN);
    C(IVCOM_RING_ORDER_MAX);
    C(IVCOM_MODE_MESSAGE);
    C(IVCOM_MODE_STREAM);
    C(IVCOM_LIVE_DEAD);
    C(IVCOM_LIVE_UP);
    C(IVCOM_LIVE_CLOSED);
    C(IVCOM_CTRL_GREFS_OFFSET);
    C(IVCOM_CTRL_MAX_GREFS);
    C(IVCOM_MSG_ALIGN);
    C(IVCOM_MSG_DATA);
    C(IVCOM_MSG_PAD);
#ifdef HAVE_XEN_HEADERS
    C(VCHAN_NOTIFY_WRITE);
    C(VCHAN_NOTIFY_READ);
#endif
    printf("\n  }\n}\n");
    return ferror(stdout) ? 1 : 0;
}
