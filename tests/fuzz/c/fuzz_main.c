/* SPDX-License-Identifier: MIT */
/*
 * A plain main() for the fuzz targets: runs LLVMFuzzerTestOneInput on
 * every file named on the command line (directories: every regular file
 * in them, sorted), or on stdin when there is no argument -- the shape
 * AFL++ and the replay build (ASan+UBSan, no libFuzzer) expect.
 *
 *   target [FILE|DIR]...
 *
 * Exit 0 when every input ran; an invariant failure aborts (ASan/UBSan
 * reports are fatal too), naming the file on stderr first.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_stream(FILE *f, const char *name)
{
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap), *exact;

    if (!buf) {
        fprintf(stderr, "fuzz-main: out of memory\n");
        return 1;
    }
    for (;;) {
        size_t n = fread(buf + len, 1, cap - len, f);

        len += n;
        if (len < cap)
            break;
        cap *= 2;
        uint8_t *nb = realloc(buf, cap);
        if (!nb) {
            free(buf);
            fprintf(stderr, "fuzz-main: %s: out of memory\n", name);
            return 1;
        }
        buf = nb;
    }
    if (ferror(f)) {
        free(buf);
        fprintf(stderr, "fuzz-main: %s: read error\n", name);
        return 1;
    }
    /* An exactly sized copy, so that reading past the input is an ASan
     * report here as it is under libFuzzer. */
    exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        fprintf(stderr, "fuzz-main: %s: out of memory\n", name);
        return 1;
    }
    memcpy(exact, buf, len);
    free(buf);
    fprintf(stderr, "fuzz-main: running %s (%zu bytes)\n", name, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    int r;

    if (!f) {
        fprintf(stderr, "fuzz-main: %s: %s\n", path, strerror(errno));
        return 1;
    }
    r = run_stream(f, path);
    fclose(f);
    return r;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, unsigned *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int bad = 0;

    if (!d) {
        fprintf(stderr, "fuzz-main: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));
            if (!nn) {
                bad = 1;
                break;
            }
            names = nn;
        }
        names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (!names[n]) {
            bad = 1;
            break;
        }
        sprintf(names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    for (i = 0; i < n; i++) {
        struct stat st;

        if (!bad && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            bad |= run_file(names[i]);
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    if (bad)
        fprintf(stderr, "fuzz-main: %s: could not read every input\n", dir);
    return bad;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    int i, bad = 0;

    if (argc < 2) {
        bad = run_stream(stdin, "<stdin>");
        count = 1;
    }
    for (i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fuzz-main: %s: %s\n", argv[i], strerror(errno));
            bad = 1;
        } else if (S_ISDIR(st.st_mode)) {
            bad |= run_dir(argv[i], &count);
        } else {
            bad |= run_file(argv[i]);
            count++;
        }
    }
    fprintf(stderr, "fuzz-main: %u input(s) ran%s\n", count, bad ? ", some unreadable" : "");
    return bad ? 2 : 0;
}
