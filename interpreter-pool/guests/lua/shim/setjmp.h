/* setjmp/longjmp for Lua's error handling on wasm32-wasi, whose libc here
 * has none. clang's -mllvm -wasm-enable-sjlj rewrites every setjmp and
 * longjmp call into calls of the __wasm_setjmp* runtime in guest.c, which
 * unwinds with a WebAssembly exception (tag __c_longjmp). */
#ifndef CURIO_SETJMP_H
#define CURIO_SETJMP_H

typedef struct {
  void *invocation;
  unsigned label;
  void *env;
  int value;
} jmp_buf[1];

int setjmp(jmp_buf env) __attribute__((returns_twice));
_Noreturn void longjmp(jmp_buf env, int value);

#endif
