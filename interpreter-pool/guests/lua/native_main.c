/* The native reference build's entry: `lua SCRIPT ARGS...` runs SCRIPT with
 * ARGS as its `...`, with every standard library open and `curio_as_c`
 * (as_c.h) beside them. */
#include <stdio.h>

#include "as_c.h"
#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s SCRIPT [ARGS...]\n", argv[0]);
    return 2;
  }
  lua_State *L = luaL_newstate();
  if (L == NULL) return 1;
  luaL_openlibs(L);
  lua_register(L, "curio_as_c", curio_as_c);
  int rc = luaL_loadfile(L, argv[1]);
  if (rc == LUA_OK) {
    for (int i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
    rc = lua_pcall(L, argc - 2, 0, 0);
  }
  if (rc != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
  lua_close(L);
  return rc == LUA_OK ? 0 : 1;
}
