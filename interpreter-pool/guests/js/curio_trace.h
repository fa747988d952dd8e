/* The JavaScript tracer's entry, shared by the WebAssembly guest (guest.c)
 * and the native reference (native_main.c). The tracer itself,
 * curio_trace.c, is compiled inside QuickJS's quickjs.c (quickjs.patch
 * includes it), where the engine's frames and objects are in reach. */
#ifndef CURIO_TRACE_H
#define CURIO_TRACE_H

#include <stddef.h>
#include <stdint.h>

typedef struct CurioHooks {
  /* One event, JSON; returns 0 once the trace is full (events then carry
   * no locals or values). */
  int (*emit)(void *opaque, const char *text, size_t len);
  /* Output that outgrew its buffer before the next event. */
  void (*output)(void *opaque, const char *text, size_t len);
  void *opaque;
} CurioHooks;

/* Runs `source` (a script named "<program>") with `input` on readline(),
 * Math.random seeded by `seed` and reprs cut at `repr_cap` bytes. Returns
 * the run's summary, JSON {"status", "error", "stdout"}, malloc'd, or NULL
 * when even that could not be allocated. */
char *curio_run_js(const char *source, size_t source_len, const char *input, size_t input_len, int64_t seed,
                   uint32_t repr_cap, const CurioHooks *hooks, size_t *summary_len);

#endif
