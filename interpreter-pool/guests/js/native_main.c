/* The native reference build of the JavaScript guest: the same QuickJS-NG
 * and curio_trace.c, compiled for this machine, which the guest is tested
 * against and `curio bench pool --language js` compares with.
 *
 *     qjs trace SOURCE_FILE INPUT_FILE SEED REPR_CAP
 *         prints each event on a line of its own ("E <json>"), then the
 *         summary ("S <json>"); output handed over early is dropped
 *     qjs bench REPEAT REPR_CAP SOURCE_FILE...
 *         runs each program REPEAT times; prints "<events> <seconds>"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curio_trace.h"

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len == cap) buf = realloc(buf, cap *= 2);
    size_t got = fread(buf + len, 1, cap - len, f);
    if (got == 0) break;
    len += got;
  }
  fclose(f);
  *n = len;
  return buf;
}

static int print_event(void *opaque, const char *text, size_t len) {
  (void)opaque;
  fputs("E ", stdout);
  fwrite(text, 1, len, stdout);
  fputc('\n', stdout);
  return 1;
}

static unsigned long long events;

static int count_event(void *opaque, const char *text, size_t len) {
  (void)opaque, (void)text, (void)len;
  events++;
  return 1;
}

static void drop(void *opaque, const char *text, size_t len) { (void)opaque, (void)text, (void)len; }

int main(int argc, char **argv) {
  if (argc == 6 && !strcmp(argv[1], "trace")) {
    size_t source_len, input_len, n;
    char *source = slurp(argv[2], &source_len);
    char *input = slurp(argv[3], &input_len);
    CurioHooks hooks = {print_event, drop, NULL};
    char *summary = curio_run_js(source, source_len, input, input_len, strtoll(argv[4], NULL, 10),
                                 (uint32_t)strtoul(argv[5], NULL, 10), &hooks, &n);
    if (!summary) return 1;
    fputs("S ", stdout);
    fwrite(summary, 1, n, stdout);
    fputc('\n', stdout);
    free(summary);
    free(source);
    free(input);
    return 0;
  }
  if (argc >= 5 && !strcmp(argv[1], "bench")) {
    int repeat = atoi(argv[2]);
    uint32_t cap = (uint32_t)strtoul(argv[3], NULL, 10);
    CurioHooks hooks = {count_event, drop, NULL};
    double seconds = 0;
    for (int r = 0; r < repeat; r++) {
      for (int i = 4; i < argc; i++) {
        size_t len, n;
        char *source = slurp(argv[i], &len);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        char *summary = curio_run_js(source, len, "", 0, 0, cap, &hooks, &n);
        clock_gettime(CLOCK_MONOTONIC, &b);
        seconds += (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
        free(summary);
        free(source);
      }
    }
    printf("%llu %.6f\n", events, seconds);
    return 0;
  }
  fprintf(stderr, "usage: %s trace SOURCE INPUT SEED REPR_CAP | bench REPEAT REPR_CAP SOURCE...\n", argv[0]);
  return 2;
}
