/* as_c(f): f behind a C function. The tracer hands the program its print,
 * pcall, io.write and the like through it, so a program frame that ends in
 * `return print(x)` tail-calls a C function: Lua then finishes that frame
 * with its own return event, where a tail call into a Lua function would
 * replace the frame without one. Calls continue across yields (lua_callk),
 * as they would in the Lua functions themselves. Shared by the guest and
 * the native reference build. */
#ifndef CURIO_AS_C_H
#define CURIO_AS_C_H

#include "lauxlib.h"
#include "lua.h"

static int curio_as_c_done(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  return lua_gettop(L);
}

static int curio_as_c_call(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, curio_as_c_done);
  return curio_as_c_done(L, LUA_OK, 0);
}

static int curio_as_c(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_pushcclosure(L, curio_as_c_call, 1);
  return 1;
}

#endif
