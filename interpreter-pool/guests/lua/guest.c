/* The Lua guest: Lua 5.4 in a WebAssembly module that runs one program
 * under tracer.lua per instance.
 *
 * Exports: curio_alloc(n) for the host to place the source and the input,
 * and curio_run(...), which runs them and hands the run's summary to
 * curio.finish. Imports: curio.emit (one trace event, JSON; false once the
 * trace is full), curio.output (output that outgrew its buffer) and
 * curio.finish. WASI is imported only because the C library asks for it;
 * the host answers its clock with a virtual one and refuses everything else.
 *
 * Nothing the program does reaches this file: it runs inside tracer.lua's
 * environment, which has no debug, io, package, load or os.exit.
 */
#include <stdint.h>
#include <stdlib.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"
#include "as_c.h"
#include "setjmp.h"
#include "tracer_lua.h"

#define IMPORT(name) __attribute__((import_module("curio"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

IMPORT("emit") int32_t curio_emit(const char *event, uint32_t len);
IMPORT("output") void curio_output(const char *text, uint32_t len);
IMPORT("finish") void curio_finish(const char *summary, uint32_t len);

/* The runtime clang's sjlj lowering calls. setjmp records which call of
 * which function it belongs to; longjmp throws; the catching function
 * compares its own invocation with the one recorded. */
struct jump {
  void *invocation;
  uint32_t label;
  void *env;
  int value;
};

void __wasm_setjmp(void *env, uint32_t label, void *invocation) {
  struct jump *j = env;
  j->invocation = invocation;
  j->label = label;
}

uint32_t __wasm_setjmp_test(void *env, void *invocation) {
  struct jump *j = env;
  return j->invocation == invocation ? j->label : 0;
}

void __wasm_longjmp(void *env, int value) {
  struct jump *j = env;
  j->env = env;
  j->value = value ? value : 1;
  __builtin_wasm_throw(1, &j->env);
}

static int emit(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_pushboolean(L, curio_emit(s, (uint32_t)n));
  return 1;
}

static int output(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  curio_output(s, (uint32_t)n);
  return 0;
}

static void finish(const char *text) {
  size_t n = 0;
  while (text[n]) n++;
  curio_finish(text, (uint32_t)n);
}

static const char OUT_OF_MEMORY[] =
    "{\"status\": \"exception\", \"error\": {\"type\": \"MemoryError\", "
    "\"message\": \"not enough memory\", \"line\": null}, \"stdout\": \"\"}";
static const char TRACER_FAILED[] =
    "{\"status\": \"ok\", \"error\": null, \"stdout\": \"\", "
    "\"tampered\": \"the tracer itself failed\"}";

EXPORT("curio_alloc") void *curio_alloc(uint32_t n) { return malloc(n ? n : 1); }

static const luaL_Reg LIBRARIES[] = {
    {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string}, {LUA_TABLIBNAME, luaopen_table},
    {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8},  {LUA_COLIBNAME, luaopen_coroutine},
    {LUA_OSLIBNAME, luaopen_os},     {LUA_DBLIBNAME, luaopen_debug},   {NULL, NULL},
};

/* Runs `source` with `input` on stdin; the summary goes to curio.finish. The
 * state is never closed: the host drops the whole instance after the run. */
EXPORT("curio_run")
void curio_run(const char *source, uint32_t source_len, const char *input, uint32_t input_len, int64_t seed,
               uint32_t repr_cap) {
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    finish(OUT_OF_MEMORY);
    return;
  }
  for (const luaL_Reg *lib = LIBRARIES; lib->func; lib++) {
    luaL_requiref(L, lib->name, lib->func, 1);
    lua_pop(L, 1);
  }
  int rc = luaL_loadbufferx(L, TRACER_LUA, sizeof(TRACER_LUA) - 1, "=tracer", "b");
  if (rc == LUA_OK) rc = lua_pcall(L, 0, 1, 0);
  if (rc == LUA_OK) {
    lua_pushlstring(L, source, source_len);
    lua_pushlstring(L, input, input_len);
    lua_pushinteger(L, (lua_Integer)seed);
    lua_pushinteger(L, (lua_Integer)repr_cap);
    lua_pushcfunction(L, emit);
    lua_pushcfunction(L, output);
    lua_pushcfunction(L, curio_as_c);
    rc = lua_pcall(L, 7, 1, 0);
  }
  if (rc == LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
    size_t n;
    const char *summary = lua_tolstring(L, -1, &n);
    curio_finish(summary, (uint32_t)n);
  } else {
    finish(rc == LUA_ERRMEM ? OUT_OF_MEMORY : TRACER_FAILED);
  }
}
