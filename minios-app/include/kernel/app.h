/* SPDX-License-Identifier: MIT */
/*
 * The contract between kernel and app.  The kernel brings everything up
 * in a fixed order, then calls app_main(cmdline).  The app returns 0 for
 * success (and may have printed its own result line with details), or a
 * negative errno.  The kernel prints the result line if the app did not,
 * and shuts the domain down.  app_main is weak in the kernel: an image
 * without an app reports FAILURE "no app".
 */
#ifndef KERNEL_APP_H
#define KERNEL_APP_H

int app_main(const char *cmdline);

#endif
