/* SPDX-License-Identifier: MIT */
/*
 * The result line: the one machine-readable line the guest ends with.
 *   ivcom-guest: result: SUCCESS <details>
 *   ivcom-guest: result: FAILURE <reason>
 * A host runner turns it into an exit code.  Printed at most once.
 */
#ifndef KERNEL_REPORT_H
#define KERNEL_REPORT_H

#define REPORT_PREFIX "ivcom-guest: result: "

void report_success(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report_failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int report_done(void);

/* Formats the line into buf (without newline); pure, host-tested.
 * Newlines in the details are replaced by spaces so it stays one line. */
int report_format(char *buf, unsigned long len, int success,
                  const char *details);

#endif
