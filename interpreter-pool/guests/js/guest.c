/* The JavaScript guest: QuickJS-NG with curio_trace.c in a WebAssembly
 * module that runs one program per instance.
 *
 * Exports: curio_alloc(n) for the host to place the source and the input,
 * and curio_run(...), which runs them and hands the run's summary to
 * curio.finish. Imports: curio.emit (one trace event, JSON; false once the
 * trace is full), curio.output (output that outgrew its buffer) and
 * curio.finish: the same protocol as the Lua guest. WASI is imported only
 * because the C library asks for it; the host answers its clock with a
 * virtual one and refuses everything else.
 */
#include <stdint.h>
#include <stdlib.h>

#include "curio_trace.h"

#define IMPORT(name) __attribute__((import_module("curio"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

IMPORT("emit") int32_t curio_emit_import(const char *event, uint32_t len);
IMPORT("output") void curio_output_import(const char *text, uint32_t len);
IMPORT("finish") void curio_finish_import(const char *summary, uint32_t len);

static int emit(void *opaque, const char *text, size_t len) {
  (void)opaque;
  return curio_emit_import(text, (uint32_t)len);
}

static void output(void *opaque, const char *text, size_t len) {
  (void)opaque;
  curio_output_import(text, (uint32_t)len);
}

static const char OUT_OF_MEMORY[] =
    "{\"status\": \"exception\", \"error\": {\"type\": \"MemoryError\", "
    "\"message\": \"not enough memory\", \"line\": null}, \"stdout\": \"\"}";

EXPORT("curio_alloc") void *curio_alloc(uint32_t n) { return malloc(n ? n : 1); }

/* Runs `source` with `input` on readline(); the summary goes to
 * curio.finish. Nothing is freed: the host drops the whole instance. */
EXPORT("curio_run")
void curio_run(const char *source, uint32_t source_len, const char *input, uint32_t input_len, int64_t seed,
               uint32_t repr_cap) {
  CurioHooks hooks = {emit, output, NULL};
  size_t n = 0;
  char *summary = curio_run_js(source, source_len, input, input_len, seed, repr_cap, &hooks, &n);
  if (summary) curio_finish_import(summary, (uint32_t)n);
  else curio_finish_import(OUT_OF_MEMORY, sizeof OUT_OF_MEMORY - 1);
}
