/* The JavaScript tracer: QuickJS-NG with a line hook.
 *
 * quickjs.patch adds one opcode, OP_curio_line, which the parser emits where
 * a statement starts and where a loop tests or steps again, and calls the
 * four functions below from JS_CallInternal: curio_call when a bytecode
 * frame starts (or a generator resumes), curio_line at each OP_curio_line,
 * curio_exception when an exception reaches a frame, and curio_return when a
 * frame ends by any path. This file is compiled inside quickjs.c, so it reads
 * frames, closures and objects directly: locals come from the engine's own
 * variable tables, and nothing here ever calls into the program's code (no
 * getter, toString or Proxy trap runs while a value is shown).
 *
 * Events follow the Python guest's schema, one JSON array each:
 *
 *     [event, line, function, depth, [[name, repr], ...], stdout, value]
 *
 * - Only frames of the program's own code ("<program>") are traced; depth
 *   counts them. The script itself is "<module>", whose locals are the
 *   program's global let/const/class bindings, the globals it created, and
 *   its top-level block-scoped variables.
 * - A line event fires when a frame reaches a statement on a line other than
 *   its last, or jumps back (a loop's next round).
 * - Every frame an exception reaches gets an "exception" event (its repr as
 *   the value); a frame it leaves returns undefined.
 */
#include "curio_trace.h"

#define CURIO_CUT "\xe2\x80\xa6"
#define CURIO_MAX_LOCALS 1024
#define CURIO_MAX_NAME 256
#define CURIO_FLUSH_BYTES (64 * 1024)
#define CURIO_MAX_NEST 12
/* console.log's own budget for one argument that is not a string. */
#define CURIO_LOG_CAP (1 << 20)

enum { CURIO_FUNCTION = 1, CURIO_MODULE = 2 };

/* One event's locals, gathered before they are written. */
typedef struct CurioLocals {
  JSAtom names[CURIO_MAX_LOCALS];
  JSValue values[CURIO_MAX_LOCALS]; /* borrowed */
  int count;
} CurioLocals;

typedef struct CurioTrace {
  CurioHooks hooks;
  JSContext *ctx;
  JSAtom file;
  JSFunctionBytecode *program;
  uint32_t cap;
  int depth;
  bool full;
  DynBuf pending; /* output not yet handed over */
  const char *source;
  size_t source_len;
  const char *input;
  size_t input_len, input_pos;
  JSValue error;     /* the exception in flight, owned; undefined when none */
  int error_line;    /* where it was first seen */
  bool error_seen;
  JSValue rejection; /* the last promise rejection nobody handled, owned */
  int rejection_line;
  JSAtom *globals;   /* the global object's names before the program ran, sorted */
  uint32_t n_globals;
  /* The source's words, sorted (offset, length) pairs, built at first need. */
  uint32_t *words;
  uint32_t n_words;
  bool words_built;
  CurioLocals locals; /* reused by every event */
} CurioTrace;

/* Text ------------------------------------------------------------------ */

static void curio_put_utf8(DynBuf *b, uint32_t c) {
  if (c < 0x80) {
    dbuf_putc(b, (uint8_t)c);
  } else if (c < 0x800) {
    dbuf_putc(b, 0xc0 | (c >> 6));
    dbuf_putc(b, 0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    dbuf_putc(b, 0xe0 | (c >> 12));
    dbuf_putc(b, 0x80 | ((c >> 6) & 0x3f));
    dbuf_putc(b, 0x80 | (c & 0x3f));
  } else {
    dbuf_putc(b, 0xf0 | (c >> 18));
    dbuf_putc(b, 0x80 | ((c >> 12) & 0x3f));
    dbuf_putc(b, 0x80 | ((c >> 6) & 0x3f));
    dbuf_putc(b, 0x80 | (c & 0x3f));
  }
}

/* Writes UTF-16 code units as UTF-8 (`quote` 0: raw, a lone surrogate as
 * U+FFFD; else as a JS string literal in that quote), holding a high
 * surrogate until the next unit shows whether it has its pair. */
typedef struct CurioUnits {
  DynBuf *b;
  int quote;
  uint32_t high; /* a pending high surrogate, or 0 */
} CurioUnits;

static void curio_lone(CurioUnits *u, uint32_t c) {
  if (u->quote) dbuf_printf(u->b, "\\u%04x", c);
  else curio_put_utf8(u->b, 0xfffd);
}

static void curio_unit(CurioUnits *u, uint32_t c) {
  DynBuf *b = u->b;
  if (u->high) {
    uint32_t high = u->high;
    u->high = 0;
    if (c >= 0xdc00 && c < 0xe000) {
      curio_put_utf8(b, 0x10000 + ((high - 0xd800) << 10) + (c - 0xdc00));
      return;
    }
    curio_lone(u, high);
  }
  if (c >= 0xd800 && c < 0xdc00) {
    u->high = c;
    return;
  }
  if (c >= 0xdc00 && c < 0xe000) {
    curio_lone(u, c);
    return;
  }
  if (u->quote) {
    switch (c) {
    case '\\': dbuf_putstr(b, "\\\\"); return;
    case '\n': dbuf_putstr(b, "\\n"); return;
    case '\r': dbuf_putstr(b, "\\r"); return;
    case '\t': dbuf_putstr(b, "\\t"); return;
    case '\b': dbuf_putstr(b, "\\b"); return;
    case '\f': dbuf_putstr(b, "\\f"); return;
    case '\v': dbuf_putstr(b, "\\v"); return;
    default:
      if ((int)c == u->quote) {
        dbuf_putc(b, '\\');
        dbuf_putc(b, c);
        return;
      }
      if (c < 0x20 || c == 0x7f) {
        dbuf_printf(b, "\\x%02x", c);
        return;
      }
    }
  }
  curio_put_utf8(b, c);
}

static void curio_units_end(CurioUnits *u) {
  if (u->high) curio_lone(u, u->high);
  u->high = 0;
}

static void curio_units_of(CurioUnits *u, JSString *p, size_t limit) {
  for (uint32_t i = 0; i < p->len && u->b->size <= limit; i++) curio_unit(u, string_get(p, i));
}

/* A string value's units, a rope's pieces in order, until `limit`: a
 * rope is never flattened (that would copy all of it at every event). */
static void curio_units_of_value(CurioUnits *u, JSValueConst v, size_t limit, int depth) {
  if (u->b->size > limit) return;
  if (JS_VALUE_GET_TAG(v) == JS_TAG_STRING) {
    curio_units_of(u, JS_VALUE_GET_STRING(v), limit);
  } else if (JS_VALUE_GET_TAG(v) == JS_TAG_STRING_ROPE && depth < 1024) {
    JSStringRope *r = JS_VALUE_GET_STRING_ROPE(v);
    curio_units_of_value(u, r->left, limit, depth + 1);
    curio_units_of_value(u, r->right, limit, depth + 1);
  }
}

/* The characters of `p` as UTF-8, raw (`quote` 0) or as a literal in
 * `quote`. Stops once `b` holds more than `limit` bytes. */
static void curio_put_string(DynBuf *b, JSString *p, int quote, size_t limit) {
  CurioUnits u = {b, quote, 0};
  if (quote) dbuf_putc(b, quote);
  curio_units_of(&u, p, limit);
  curio_units_end(&u);
  if (quote && b->size <= limit) dbuf_putc(b, quote);
}

/* A string value (flat or a rope), as curio_put_string writes it. */
static void curio_put_string_value(DynBuf *b, JSValueConst v, int quote, size_t limit) {
  CurioUnits u = {b, quote, 0};
  if (quote) dbuf_putc(b, quote);
  curio_units_of_value(&u, v, limit, 0);
  curio_units_end(&u);
  if (quote && b->size <= limit) dbuf_putc(b, quote);
}

/* `s` (valid UTF-8) as a JSON string. */
static void curio_put_json(DynBuf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  dbuf_putc(b, '"');
  for (size_t i = 0; i < n; i++) {
    uint8_t c = (uint8_t)s[i];
    if (c == '"' || c == '\\') {
      dbuf_putc(b, '\\');
      dbuf_putc(b, c);
    } else if (c == '\n') {
      dbuf_putstr(b, "\\n");
    } else if (c < 0x20 || c == 0x7f) {
      dbuf_putstr(b, "\\u00");
      dbuf_putc(b, hex[c >> 4]);
      dbuf_putc(b, hex[c & 15]);
    } else {
      dbuf_putc(b, c);
    }
  }
  dbuf_putc(b, '"');
}

/* Bytes of valid UTF-8 `s` that fit in `cap`, ending on a character. */
static size_t curio_fit(const uint8_t *s, size_t n, size_t cap) {
  if (n <= cap) return n;
  while (cap > 0 && (s[cap] & 0xc0) == 0x80) cap--;
  return cap;
}

/* `s` as JSON, cut at `cap` bytes with U+2026 after a cut. */
static void curio_put_json_capped(DynBuf *b, const uint8_t *s, size_t n, size_t cap) {
  size_t keep = curio_fit(s, n, cap);
  if (keep == n) {
    curio_put_json(b, (const char *)s, n);
    return;
  }
  DynBuf t;
  dbuf_init(&t);
  dbuf_put(&t, s, keep);
  dbuf_putstr(&t, CURIO_CUT);
  curio_put_json(b, (const char *)t.buf, t.size);
  dbuf_free(&t);
}

/* The atom's text (a tagged integer as its digits). */
static void curio_put_atom(JSRuntime *rt, DynBuf *b, JSAtom atom, int quote, size_t limit) {
  if (__JS_AtomIsTaggedInt(atom)) {
    dbuf_printf(b, "%u", __JS_AtomToUInt32(atom));
    return;
  }
  curio_put_string(b, rt->atom_array[atom], quote, limit);
}

static bool curio_is_ident_char(uint32_t c, bool first) {
  if (c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return true;
  return !first && c >= '0' && c <= '9';
}

/* Whether the atom reads as an identifier (a property key shown bare). */
static bool curio_atom_is_ident(JSRuntime *rt, JSAtom atom) {
  if (__JS_AtomIsTaggedInt(atom)) return false;
  JSString *p = rt->atom_array[atom];
  if (p->len == 0 || p->atom_type == JS_ATOM_TYPE_SYMBOL) return false;
  for (uint32_t i = 0; i < p->len; i++) {
    uint32_t c = string_get(p, i);
    if (c >= 0xd800 && c < 0xe000) return false;
    if (!curio_is_ident_char(c, i == 0)) return false;
  }
  return true;
}

/* Words of the source --------------------------------------------------------- */

static const char *curio_words_source;

static int curio_word_cmp(const void *a, const void *b) {
  const uint32_t *x = a, *y = b;
  uint32_t n = x[1] < y[1] ? x[1] : y[1];
  int c = memcmp(curio_words_source + x[0], curio_words_source + y[0], n);
  if (c) return c;
  return (x[1] > y[1]) - (x[1] < y[1]);
}

static bool curio_word_byte(uint8_t c) {
  return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c >= 0x80;
}

static void curio_build_words(CurioTrace *tr) {
  tr->words_built = true;
  size_t n = tr->source_len, count = 0;
  for (size_t i = 0; i < n;) {
    if (!curio_word_byte(tr->source[i])) { i++; continue; }
    count++;
    while (i < n && curio_word_byte(tr->source[i])) i++;
  }
  tr->words = malloc(sizeof(uint32_t) * 2 * (count ? count : 1));
  if (!tr->words) return;
  count = 0;
  for (size_t i = 0; i < n;) {
    if (!curio_word_byte(tr->source[i])) { i++; continue; }
    size_t start = i;
    while (i < n && curio_word_byte(tr->source[i])) i++;
    if (tr->source[start] >= '0' && tr->source[start] <= '9') continue;
    tr->words[2 * count] = (uint32_t)start;
    tr->words[2 * count + 1] = (uint32_t)(i - start);
    count++;
  }
  curio_words_source = tr->source;
  qsort(tr->words, count, sizeof(uint32_t) * 2, curio_word_cmp);
  tr->n_words = (uint32_t)count;
}

/* Whether `name` is a whole word of the source. */
static bool curio_is_word(CurioTrace *tr, const uint8_t *name, size_t n) {
  if (!tr->words_built) curio_build_words(tr);
  uint32_t lo = 0, hi = tr->n_words;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    const uint32_t *w = tr->words + 2 * mid;
    size_t m = w[1] < n ? w[1] : n;
    int c = memcmp(tr->source + w[0], name, m);
    if (!c) c = (w[1] > n) - (w[1] < n);
    if (!c) return true;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

/* Values ------------------------------------------------------------------- */

static void curio_repr(CurioTrace *tr, DynBuf *b, JSValueConst v, int nest, JSObject **path, size_t limit);

/* An own data property of `p` (no getter runs), or false. `*out` is borrowed. */
static bool curio_own_data(JSObject *p, JSAtom atom, JSValue *out) {
  JSShapeProperty *prs;
  JSProperty *pr;
  if (p->is_exotic && p->class_id != JS_CLASS_ARRAY && p->class_id != JS_CLASS_ARGUMENTS) return false;
  prs = find_own_property(&pr, p, atom);
  if (!prs) return false;
  switch (prs->flags & JS_PROP_TMASK) {
  case JS_PROP_NORMAL:
    *out = pr->u.value;
    return true;
  case JS_PROP_VARREF:
    *out = *pr->u.var_ref->pvalue;
    return true;
  default:
    return false;
  }
}

/* A data property found along `p`'s prototype chain of ordinary objects. */
static bool curio_chain_data(JSObject *p, JSAtom atom, JSValue *out) {
  for (int hops = 0; p && hops < 64; hops++, p = p->shape->proto) {
    if (p->class_id == JS_CLASS_PROXY) return false;
    if (curio_own_data(p, atom, out)) return true;
  }
  return false;
}

/* A function's name as it calls itself: its own "name" data property. */
static void curio_put_function(JSRuntime *rt, DynBuf *b, JSObject *p, size_t limit) {
  JSValue name;
  if (curio_own_data(p, JS_ATOM_name, &name) && JS_VALUE_GET_NORM_TAG(name) == JS_TAG_STRING &&
      JS_VALUE_GET_STRING(name)->len > 0) {
    dbuf_putstr(b, "[Function: ");
    curio_put_string(b, JS_VALUE_GET_STRING(name), 0, limit);
    dbuf_putc(b, ']');
  } else {
    dbuf_putstr(b, "[Function (anonymous)]");
  }
}

static void curio_put_number(JSContext *ctx, DynBuf *b, JSValueConst v) {
  if (JS_VALUE_GET_NORM_TAG(v) == JS_TAG_FLOAT64) {
    double d = JS_VALUE_GET_FLOAT64(v);
    if (d == 0 && signbit(d)) {
      dbuf_putstr(b, "-0");
      return;
    }
  }
  JSValue s = JS_ToString(ctx, v);
  if (JS_IsException(s)) {
    JS_FreeValue(ctx, JS_GetException(ctx));
    dbuf_putstr(b, "NaN");
    return;
  }
  curio_put_string(b, JS_VALUE_GET_STRING(s), 0, SIZE_MAX);
  JS_FreeValue(ctx, s);
}

static void curio_put_key(JSRuntime *rt, DynBuf *b, JSAtom atom, size_t limit) {
  if (curio_atom_is_ident(rt, atom) || __JS_AtomIsTaggedInt(atom)) curio_put_atom(rt, b, atom, 0, limit);
  else curio_put_atom(rt, b, atom, '\'', limit);
}

/* `{a: 1, 'b c': 2}`: own enumerable string-keyed properties, in their order. */
static void curio_put_fields(CurioTrace *tr, DynBuf *b, JSObject *p, int nest, JSObject **path, size_t limit) {
  JSContext *ctx = tr->ctx;
  JSRuntime *rt = ctx->rt;
  JSPropertyEnum *tab = NULL;
  uint32_t len = 0;
  if (JS_GetOwnPropertyNamesInternal(ctx, &tab, &len, p, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY)) {
    JS_FreeValue(ctx, JS_GetException(ctx));
    dbuf_putstr(b, "{}");
    return;
  }
  dbuf_putc(b, '{');
  for (uint32_t i = 0; i < len && b->size <= limit; i++) {
    JSPropertyDescriptor desc;
    if (i) dbuf_putstr(b, ", ");
    curio_put_key(rt, b, tab[i].atom, limit);
    dbuf_putstr(b, ": ");
    int found = JS_GetOwnPropertyInternal(ctx, &desc, p, tab[i].atom);
    if (found < 0) {
      JS_FreeValue(ctx, JS_GetException(ctx));
      dbuf_putstr(b, "?");
    } else if (found == 0) {
      dbuf_putstr(b, "undefined");
    } else {
      if (desc.flags & JS_PROP_GETSET) {
        bool get = !JS_IsUndefined(desc.getter), set = !JS_IsUndefined(desc.setter);
        dbuf_putstr(b, get && set ? "[Getter/Setter]" : get ? "[Getter]" : "[Setter]");
      } else {
        curio_repr(tr, b, desc.value, nest + 1, path, limit);
      }
      JS_FreeValue(ctx, desc.value);
      JS_FreeValue(ctx, desc.getter);
      JS_FreeValue(ctx, desc.setter);
    }
  }
  dbuf_putc(b, '}');
  js_free_prop_enum(ctx, tab, len);
}

static void curio_put_array(CurioTrace *tr, DynBuf *b, JSObject *p, int nest, JSObject **path, size_t limit) {
  dbuf_putc(b, '[');
  if (p->fast_array) {
    uint32_t n = p->u.array.count;
    for (uint32_t i = 0; i < n && b->size <= limit; i++) {
      if (i) dbuf_putstr(b, ", ");
      curio_repr(tr, b, p->u.array.u.values[i], nest + 1, path, limit);
    }
  } else {
    JSValue length = JS_UNDEFINED;
    uint32_t n = 0;
    if (curio_own_data(p, JS_ATOM_length, &length) && JS_VALUE_GET_NORM_TAG(length) == JS_TAG_INT)
      n = (uint32_t)JS_VALUE_GET_INT(length);
    else if (JS_VALUE_GET_NORM_TAG(length) == JS_TAG_FLOAT64)
      n = (uint32_t)JS_VALUE_GET_FLOAT64(length);
    for (uint32_t i = 0; i < n && b->size <= limit; i++) {
      JSValue item;
      if (i) dbuf_putstr(b, ", ");
      if (i <= JS_ATOM_MAX_INT && curio_own_data(p, __JS_AtomFromUInt32(i), &item))
        curio_repr(tr, b, item, nest + 1, path, limit);
      else
        dbuf_putstr(b, "<empty>");
    }
  }
  dbuf_putc(b, ']');
}

static void curio_put_collection(CurioTrace *tr, DynBuf *b, JSObject *p, int nest, JSObject **path,
                                 size_t limit) {
  JSMapState *s = p->u.map_state;
  bool is_map = p->class_id == JS_CLASS_MAP;
  struct list_head *el;
  bool first = true;
  dbuf_printf(b, "%s(%u) {", is_map ? "Map" : "Set", s ? s->record_count : 0);
  if (s) {
    list_for_each(el, &s->records) {
      JSMapRecord *mr = list_entry(el, JSMapRecord, link);
      if (mr->empty) continue;
      if (b->size > limit) break;
      if (!first) dbuf_putstr(b, ", ");
      first = false;
      curio_repr(tr, b, mr->key, nest + 1, path, limit);
      if (is_map) {
        dbuf_putstr(b, " => ");
        curio_repr(tr, b, mr->value, nest + 1, path, limit);
      }
    }
  }
  dbuf_putc(b, '}');
}

static void curio_put_object(CurioTrace *tr, DynBuf *b, JSObject *p, int nest, JSObject **path, size_t limit) {
  JSContext *ctx = tr->ctx;
  JSRuntime *rt = ctx->rt;
  JSValue v;
  for (int i = 0; i < nest; i++) {
    if (path[i] == p) {
      dbuf_putstr(b, "[Circular]");
      return;
    }
  }
  if (nest >= CURIO_MAX_NEST) {
    dbuf_putstr(b, p->class_id == JS_CLASS_ARRAY ? "[Array]" : "[Object]");
    return;
  }
  path[nest] = p;
  switch (p->class_id) {
  case JS_CLASS_ARRAY:
  case JS_CLASS_ARGUMENTS:
    curio_put_array(tr, b, p, nest, path, limit);
    return;
  case JS_CLASS_MAP:
  case JS_CLASS_SET:
    curio_put_collection(tr, b, p, nest, path, limit);
    return;
  case JS_CLASS_ERROR: {
    JSValue name = JS_UNDEFINED, message = JS_UNDEFINED;
    if (curio_chain_data(p, JS_ATOM_name, &name) && JS_VALUE_GET_NORM_TAG(name) == JS_TAG_STRING)
      curio_put_string(b, JS_VALUE_GET_STRING(name), 0, limit);
    else
      dbuf_putstr(b, "Error");
    if (curio_own_data(p, JS_ATOM_message, &message) && JS_VALUE_GET_NORM_TAG(message) == JS_TAG_STRING &&
        JS_VALUE_GET_STRING(message)->len > 0) {
      dbuf_putstr(b, ": ");
      curio_put_string(b, JS_VALUE_GET_STRING(message), 0, limit);
    }
    return;
  }
  case JS_CLASS_DATE:
    dbuf_putstr(b, "Date(");
    curio_put_number(ctx, b, p->u.object_data);
    dbuf_putc(b, ')');
    return;
  case JS_CLASS_NUMBER:
  case JS_CLASS_BOOLEAN:
  case JS_CLASS_STRING:
  case JS_CLASS_BIG_INT:
    dbuf_putc(b, '[');
    curio_put_atom(rt, b, rt->class_array[p->class_id].class_name, 0, limit);
    dbuf_putstr(b, ": ");
    curio_repr(tr, b, p->u.object_data, nest + 1, path, limit);
    dbuf_putc(b, ']');
    return;
  case JS_CLASS_REGEXP:
    if (p->u.regexp.pattern && p->u.regexp.bytecode) {
      static const char letters[] = "gimsuyvd";
      int flags = lre_get_flags(str8(p->u.regexp.bytecode));
      dbuf_putc(b, '/');
      curio_put_string(b, p->u.regexp.pattern, 0, limit);
      dbuf_putc(b, '/');
      if (flags & LRE_FLAG_INDICES) dbuf_putc(b, 'd');
      if (flags & LRE_FLAG_GLOBAL) dbuf_putc(b, letters[0]);
      if (flags & LRE_FLAG_IGNORECASE) dbuf_putc(b, letters[1]);
      if (flags & LRE_FLAG_MULTILINE) dbuf_putc(b, letters[2]);
      if (flags & LRE_FLAG_DOTALL) dbuf_putc(b, letters[3]);
      if (flags & LRE_FLAG_UNICODE) dbuf_putc(b, letters[4]);
      if (flags & LRE_FLAG_UNICODE_SETS) dbuf_putc(b, letters[6]);
      if (flags & LRE_FLAG_STICKY) dbuf_putc(b, letters[5]);
      return;
    }
    break;
  case JS_CLASS_OBJECT: {
    JSObject *proto = p->shape->proto;
    if (!proto) {
      dbuf_putstr(b, "[Object: null prototype] ");
    } else if (proto != JS_VALUE_GET_OBJ(ctx->class_proto[JS_CLASS_OBJECT]) &&
               curio_own_data(proto, JS_ATOM_constructor, &v) && JS_VALUE_GET_NORM_TAG(v) == JS_TAG_OBJECT) {
      JSValue name;
      if (curio_own_data(JS_VALUE_GET_OBJ(v), JS_ATOM_name, &name) && JS_VALUE_GET_NORM_TAG(name) == JS_TAG_STRING &&
          JS_VALUE_GET_STRING(name)->len > 0) {
        curio_put_string(b, JS_VALUE_GET_STRING(name), 0, limit);
        dbuf_putc(b, ' ');
      }
    }
    curio_put_fields(tr, b, p, nest, path, limit);
    return;
  }
  case JS_CLASS_PROXY:
    /* Its target and handler stay unread: reading could run a trap. */
    dbuf_putstr(b, "[Proxy]");
    return;
  default:
    break;
  }
  if (JS_IsFunction(ctx, JS_MKPTR(JS_TAG_OBJECT, p))) {
    curio_put_function(rt, b, p, limit);
    return;
  }
  dbuf_putstr(b, "[object ");
  curio_put_atom(rt, b, rt->class_array[p->class_id].class_name, 0, limit);
  dbuf_putc(b, ']');
}

static void curio_repr(CurioTrace *tr, DynBuf *b, JSValueConst v, int nest, JSObject **path, size_t limit) {
  JSContext *ctx = tr->ctx;
  if (b->size > limit) return;
  switch (JS_VALUE_GET_NORM_TAG(v)) {
  case JS_TAG_UNDEFINED:
    dbuf_putstr(b, "undefined");
    return;
  case JS_TAG_NULL:
    dbuf_putstr(b, "null");
    return;
  case JS_TAG_BOOL:
    dbuf_putstr(b, JS_VALUE_GET_BOOL(v) ? "true" : "false");
    return;
  case JS_TAG_INT:
    dbuf_printf(b, "%d", JS_VALUE_GET_INT(v));
    return;
  case JS_TAG_FLOAT64:
    curio_put_number(ctx, b, v);
    return;
  case JS_TAG_SHORT_BIG_INT:
  case JS_TAG_BIG_INT:
    /* Past 4096 bits its digits would cost more than any cap shows. */
    if (JS_VALUE_GET_NORM_TAG(v) == JS_TAG_BIG_INT && JS_VALUE_GET_PTR(v) &&
        (uint64_t)((JSBigInt *)JS_VALUE_GET_PTR(v))->len * JS_LIMB_BITS > 4096) {
      dbuf_printf(b, "<bigint of %u bits>", (unsigned)(((JSBigInt *)JS_VALUE_GET_PTR(v))->len * JS_LIMB_BITS));
      return;
    }
    curio_put_number(ctx, b, v);
    dbuf_putc(b, 'n');
    return;
  case JS_TAG_STRING:
  case JS_TAG_STRING_ROPE:
    curio_put_string_value(b, v, '\'', limit);
    return;
  case JS_TAG_SYMBOL:
    dbuf_putstr(b, "Symbol(");
    curio_put_string(b, JS_VALUE_GET_PTR(v), 0, limit);
    dbuf_putc(b, ')');
    return;
  case JS_TAG_OBJECT:
    curio_put_object(tr, b, JS_VALUE_GET_OBJ(v), nest, path, limit);
    return;
  case JS_TAG_UNINITIALIZED:
    dbuf_putstr(b, "<uninitialized>");
    return;
  default:
    dbuf_putstr(b, "<unknown>");
    return;
  }
}

/* `v` as a JSON string of its repr, cut at `cap` bytes. */
static void curio_put_value(CurioTrace *tr, DynBuf *b, JSValueConst v, size_t cap) {
  JSObject *path[CURIO_MAX_NEST];
  DynBuf r;
  dbuf_init(&r);
  curio_repr(tr, &r, v, 0, path, cap + 8);
  if (r.error) {
    dbuf_free(&r);
    curio_put_json(b, "<out of memory>", 15);
    return;
  }
  curio_put_json_capped(b, r.buf, r.size, cap);
  dbuf_free(&r);
}

/* Events -------------------------------------------------------------------- */

/* The name the host will accept: the function's own, when the source spells
 * it as a word, else "<anonymous>". */
static void curio_put_frame_name(CurioTrace *tr, DynBuf *b, JSStackFrame *sf, JSFunctionBytecode *fb) {
  if (sf->curio_traced == CURIO_MODULE) {
    dbuf_putstr(b, "\"<module>\"");
    return;
  }
  JSAtom atom = fb->func_name;
  JSValue own = JS_UNDEFINED;
  DynBuf n;
  dbuf_init(&n);
  if (atom != JS_ATOM_NULL && curio_atom_is_ident(tr->ctx->rt, atom)) {
    curio_put_atom(tr->ctx->rt, &n, atom, 0, CURIO_MAX_NAME + 8);
  } else if (JS_VALUE_GET_NORM_TAG(sf->cur_func) == JS_TAG_OBJECT &&
             curio_own_data(JS_VALUE_GET_OBJ(sf->cur_func), JS_ATOM_name, &own) &&
             JS_VALUE_GET_NORM_TAG(own) == JS_TAG_STRING) {
    /* A method or a class gets its name as a property, not from the parser. */
    curio_put_string(&n, JS_VALUE_GET_STRING(own), 0, CURIO_MAX_NAME + 8);
  }
  if (n.size > 0) {
    if (!n.error && n.size <= CURIO_MAX_NAME && curio_is_word(tr, n.buf, n.size)) {
      curio_put_json(b, (const char *)n.buf, n.size);
      dbuf_free(&n);
      return;
    }
  }
  dbuf_free(&n);
  dbuf_putstr(b, "\"<anonymous>\"");
}

static bool curio_shown_name(JSRuntime *rt, JSAtom atom) {
  if (atom == JS_ATOM_NULL || atom == JS_ATOM_this || atom == JS_ATOM_arguments) return false;
  return curio_atom_is_ident(rt, atom);
}

/* Adds (or, for a name already there, updates) one local. A block-scoped
 * (`lexical`) variable is shown once it holds a value of the program's: its
 * slot reads undefined before its block first runs, and may hold the
 * engine's own objects after the block ends. */
static void curio_add_local(CurioLocals *l, JSRuntime *rt, JSAtom atom, JSValueConst v, bool lexical) {
  if (JS_VALUE_GET_NORM_TAG(v) == JS_TAG_UNINITIALIZED || !curio_shown_name(rt, atom)) return;
  if (lexical && JS_IsUndefined(v)) return;
  if (JS_VALUE_GET_NORM_TAG(v) == JS_TAG_OBJECT && rt->class_array[JS_VALUE_GET_OBJ(v)->class_id].class_name == JS_ATOM_NULL)
    return;
  for (int i = 0; i < l->count; i++) {
    if (l->names[i] == atom) {
      l->values[i] = v;
      return;
    }
  }
  if (l->count == CURIO_MAX_LOCALS) return;
  l->names[l->count] = atom;
  l->values[l->count] = v;
  l->count++;
}

/* The data properties of `p` (an engine-made object: the global object or
 * its lexical scope); `skip` leaves out the names in tr->globals. */
static void curio_add_properties(CurioTrace *tr, CurioLocals *l, JSObject *p, bool skip) {
  JSShape *sh = p->shape;
  JSShapeProperty *prs = get_shape_prop(sh);
  for (int i = 0; i < sh->prop_count; i++, prs++) {
    JSAtom atom = prs->atom;
    JSProperty *pr = &p->prop[i];
    JSValue v;
    if (atom == JS_ATOM_NULL) continue;
    switch (prs->flags & JS_PROP_TMASK) {
    case JS_PROP_NORMAL: v = pr->u.value; break;
    case JS_PROP_VARREF: v = *pr->u.var_ref->pvalue; break;
    default: continue;
    }
    if (skip) {
      uint32_t lo = 0, hi = tr->n_globals;
      bool known = false;
      while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (tr->globals[mid] == atom) { known = true; break; }
        if (tr->globals[mid] < atom) lo = mid + 1;
        else hi = mid;
      }
      if (known) continue;
    }
    curio_add_local(l, tr->ctx->rt, atom, v, false);
  }
}

static void curio_put_locals(CurioTrace *tr, DynBuf *b, JSStackFrame *sf, JSFunctionBytecode *fb) {
  JSContext *ctx = tr->ctx;
  JSRuntime *rt = ctx->rt;
  CurioLocals *l = &tr->locals;
  l->count = 0;
  if (sf->curio_traced == CURIO_MODULE) {
    curio_add_properties(tr, l, JS_VALUE_GET_OBJ(ctx->global_var_obj), false);
    curio_add_properties(tr, l, JS_VALUE_GET_OBJ(ctx->global_obj), true);
  }
  for (int i = 0; i < fb->arg_count; i++) curio_add_local(l, rt, fb->vardefs[i].var_name, sf->arg_buf[i], false);
  for (int i = 0; i < fb->var_count; i++) {
    JSVarDef *vd = &fb->vardefs[fb->arg_count + i];
    /* Private names and the engine's hidden `using` state are no locals. */
    if (vd->var_kind >= JS_VAR_PRIVATE_FIELD && vd->var_kind != JS_VAR_USING) continue;
    curio_add_local(l, rt, vd->var_name, sf->var_buf[i], vd->is_lexical || vd->var_kind == JS_VAR_CATCH);
  }
  dbuf_putc(b, '[');
  for (int i = 0; i < l->count; i++) {
    DynBuf n;
    if (i) dbuf_putc(b, ',');
    dbuf_init(&n);
    curio_put_atom(rt, &n, l->names[i], 0, CURIO_MAX_NAME + 8);
    dbuf_putc(b, '[');
    curio_put_json_capped(b, n.buf ? n.buf : (const uint8_t *)"", n.size, CURIO_MAX_NAME);
    dbuf_free(&n);
    dbuf_putc(b, ',');
    curio_put_value(tr, b, l->values[i], tr->cap);
    dbuf_putc(b, ']');
  }
  dbuf_putc(b, ']');
}

/* Builds one event and hands it over with the output pending since the last. */
static void curio_emit(CurioTrace *tr, const char *event, int line, JSStackFrame *sf, JSFunctionBytecode *fb,
                       int depth, JSValueConst *value) {
  DynBuf b;
  dbuf_init(&b);
  dbuf_printf(&b, "[\"%s\",%d,", event, line);
  curio_put_frame_name(tr, &b, sf, fb);
  dbuf_printf(&b, ",%d,", depth);
  if (tr->full) dbuf_putstr(&b, "null");
  else curio_put_locals(tr, &b, sf, fb);
  dbuf_putc(&b, ',');
  curio_put_json(&b, (const char *)tr->pending.buf, tr->pending.size);
  dbuf_putc(&b, ',');
  if (!value || tr->full) dbuf_putstr(&b, "null");
  else curio_put_value(tr, &b, *value, tr->cap);
  dbuf_putc(&b, ']');
  if (b.error) {
    /* Out of memory while building: the step still happens, bare. */
    char bare[96];
    int n = snprintf(bare, sizeof bare, "[\"%s\",%d,\"<anonymous>\",%d,null,\"\",null]", event, line, depth);
    if (sf->curio_traced == CURIO_MODULE)
      n = snprintf(bare, sizeof bare, "[\"%s\",%d,\"<module>\",%d,null,\"\",null]", event, line, depth);
    if (!tr->hooks.emit(tr->hooks.opaque, bare, (size_t)n)) tr->full = true;
  } else {
    tr->pending.size = 0;
    if (!tr->hooks.emit(tr->hooks.opaque, (const char *)b.buf, b.size)) tr->full = true;
  }
  dbuf_free(&b);
}

/* A frame starts, or a generator or async function resumes (`resume`): a
 * resumed frame's call is at the line it stopped on, and its first run to
 * OP_initial_yield (which only binds the parameters) is not traced. */
static void curio_call(JSContext *ctx, JSStackFrame *sf, JSFunctionBytecode *fb, bool resume) {
  CurioTrace *tr = ctx->rt->curio;
  if (resume && sf->curio_line < 0) {
    sf->curio_line = 0;
    return;
  }
  if (fb->filename != tr->file) return;
  sf->curio_traced = fb == tr->program ? CURIO_MODULE : CURIO_FUNCTION;
  if (!resume || sf->curio_line <= 0) {
    sf->curio_line = sf->curio_traced == CURIO_MODULE || fb->line_num < 1 ? 1 : fb->line_num;
    sf->curio_pc = NULL;
  }
  curio_emit(tr, "call", sf->curio_line, sf, fb, tr->depth + 1, NULL);
  tr->depth++;
}

/* A catch clause took the exception in flight: the next one thrown, even
 * the same value again, is new. */
static void curio_caught(JSRuntime *rt) {
  CurioTrace *tr = rt->curio;
  JS_FreeValueRT(rt, tr->error);
  tr->error = JS_UNDEFINED;
  tr->error_seen = false;
}

/* Whether `a` and `b` are the same thrown value (an object by identity). */
static bool curio_same_thrown(JSContext *ctx, JSValueConst a, JSValueConst b) {
  if (JS_VALUE_GET_NORM_TAG(a) == JS_TAG_OBJECT || JS_VALUE_GET_NORM_TAG(b) == JS_TAG_OBJECT)
    return JS_VALUE_GET_NORM_TAG(a) == JS_VALUE_GET_NORM_TAG(b) && JS_VALUE_GET_PTR(a) == JS_VALUE_GET_PTR(b);
  return js_same_value(ctx, a, b);
}

static int curio_line(JSContext *ctx, JSStackFrame *sf, JSFunctionBytecode *fb, uint32_t line, const uint8_t *pc) {
  CurioTrace *tr = ctx->rt->curio;
  bool fire = sf->curio_pc == NULL || (int)line != sf->curio_line || pc <= sf->curio_pc;
  sf->curio_line = (int)line;
  sf->curio_pc = pc;
  if (fire && tr) curio_emit(tr, "line", (int)line, sf, fb, tr->depth, NULL);
  return 0;
}

static void curio_exception(JSContext *ctx, JSStackFrame *sf, JSFunctionBytecode *fb) {
  JSRuntime *rt = ctx->rt;
  CurioTrace *tr = rt->curio;
  if (!tr) return;
  JSValue exc = rt->current_exception;
  /* The line an uncaught error names: where it was first seen, in the
   * innermost frame, since the last catch. */
  if (!tr->error_seen || !curio_same_thrown(ctx, exc, tr->error)) {
    JS_FreeValue(ctx, tr->error);
    tr->error = js_dup(exc);
    tr->error_line = sf->curio_line;
    tr->error_seen = true;
  }
  /* Building the event must not disturb the exception in flight. */
  rt->current_exception = JS_UNINITIALIZED;
  curio_emit(tr, "exception", sf->curio_line, sf, fb, tr->depth, &exc);
  if (!JS_IsUninitialized(rt->current_exception)) JS_FreeValue(ctx, rt->current_exception);
  rt->current_exception = exc;
}

static void curio_return(JSContext *ctx, JSStackFrame *sf, JSFunctionBytecode *fb, JSValueConst ret_val) {
  CurioTrace *tr = ctx->rt->curio;
  if (tr) {
    /* A frame an exception leaves returns undefined; so does the script,
     * whose completion value no program sees. */
    JSValue value = JS_IsException(ret_val) || sf->curio_traced == CURIO_MODULE ? JS_UNDEFINED : ret_val;
    JSValue exc = ctx->rt->current_exception;
    ctx->rt->current_exception = JS_UNINITIALIZED;
    curio_emit(tr, "return", sf->curio_line, sf, fb, tr->depth, &value);
    if (!JS_IsUninitialized(ctx->rt->current_exception)) JS_FreeValue(ctx, ctx->rt->current_exception);
    ctx->rt->current_exception = exc;
    tr->depth--;
  }
  sf->curio_traced = 0;
}

/* What the program sees ----------------------------------------------------- */

static CurioTrace *curio_of(JSContext *ctx) { return ctx->rt->curio; }

static void curio_write(CurioTrace *tr, const void *text, size_t n) {
  dbuf_put(&tr->pending, text, n);
  if (tr->pending.size > CURIO_FLUSH_BYTES) {
    tr->hooks.output(tr->hooks.opaque, (const char *)tr->pending.buf, tr->pending.size);
    tr->pending.size = 0;
  }
}

/* console.log(...): strings as they are, everything else as its repr. */
static JSValue curio_log(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
  CurioTrace *tr = curio_of(ctx);
  DynBuf b;
  if (!tr) return JS_UNDEFINED;
  dbuf_init(&b);
  for (int i = 0; i < argc; i++) {
    if (i) dbuf_putc(&b, ' ');
    int tag = JS_VALUE_GET_NORM_TAG(argv[i]);
    if (tag == JS_TAG_STRING || tag == JS_TAG_STRING_ROPE) {
      curio_put_string_value(&b, argv[i], 0, SIZE_MAX);
    } else {
      JSObject *path[CURIO_MAX_NEST];
      curio_repr(tr, &b, argv[i], 0, path, CURIO_LOG_CAP);
    }
    if (b.error) break;
  }
  dbuf_putc(&b, '\n');
  if (b.error) {
    dbuf_free(&b);
    return JS_ThrowOutOfMemory(ctx);
  }
  curio_write(tr, b.buf, b.size);
  dbuf_free(&b);
  return JS_UNDEFINED;
}

/* Output that goes nowhere: console.error and console.warn write to stderr,
 * which no trace records. */
static JSValue curio_ignore(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
  return JS_UNDEFINED;
}

/* readline(): the next line of the input without its newline, or null. */
static JSValue curio_readline(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
  CurioTrace *tr = curio_of(ctx);
  if (!tr || tr->input_pos >= tr->input_len) return JS_NULL;
  const char *start = tr->input + tr->input_pos;
  size_t left = tr->input_len - tr->input_pos;
  const char *nl = memchr(start, '\n', left);
  size_t n = nl ? (size_t)(nl - start) : left;
  tr->input_pos += nl ? n + 1 : n;
  size_t keep = n > 0 && start[n - 1] == '\r' ? n - 1 : n;
  return JS_NewStringLen(ctx, start, keep);
}

/* The run -------------------------------------------------------------------- */

/* The engine tells of each promise rejected with no handler, and again if
 * one is added later: the last one still unhandled ends the run. */
static void curio_rejection(JSContext *ctx, JSValueConst promise, JSValueConst reason, bool is_handled,
                            void *opaque) {
  CurioTrace *tr = opaque;
  (void)promise;
  if (is_handled) {
    if (curio_same_thrown(ctx, reason, tr->rejection)) {
      JS_FreeValue(ctx, tr->rejection);
      tr->rejection = JS_UNDEFINED;
    }
    return;
  }
  JS_FreeValue(ctx, tr->rejection);
  tr->rejection = js_dup(reason);
  tr->rejection_line = tr->error_seen && curio_same_thrown(ctx, reason, tr->error) ? tr->error_line : 0;
}

static int curio_atom_cmp(const void *a, const void *b) {
  JSAtom x = *(const JSAtom *)a, y = *(const JSAtom *)b;
  return (x > y) - (x < y);
}

static void curio_install(JSContext *ctx, CurioTrace *tr) {
  JSValue global = JS_GetGlobalObject(ctx);
  JSValue console = JS_NewObject(ctx);
  JSValue log = JS_NewCFunction(ctx, curio_log, "log", 1);
  JS_SetPropertyStr(ctx, console, "log", js_dup(log));
  JS_SetPropertyStr(ctx, console, "info", JS_NewCFunction(ctx, curio_log, "info", 1));
  JS_SetPropertyStr(ctx, console, "debug", JS_NewCFunction(ctx, curio_log, "debug", 1));
  JS_SetPropertyStr(ctx, console, "error", JS_NewCFunction(ctx, curio_ignore, "error", 1));
  JS_SetPropertyStr(ctx, console, "warn", JS_NewCFunction(ctx, curio_ignore, "warn", 1));
  JS_SetPropertyStr(ctx, global, "console", console);
  JS_SetPropertyStr(ctx, global, "print", log);
  JS_SetPropertyStr(ctx, global, "readline", JS_NewCFunction(ctx, curio_readline, "readline", 0));
  JS_FreeValue(ctx, global);

  /* The global object's names as the program finds them. */
  JSObject *g = JS_VALUE_GET_OBJ(ctx->global_obj);
  JSShape *sh = g->shape;
  tr->globals = malloc(sizeof(JSAtom) * (sh->prop_count ? sh->prop_count : 1));
  tr->n_globals = 0;
  if (tr->globals) {
    JSShapeProperty *prs = get_shape_prop(sh);
    for (int i = 0; i < sh->prop_count; i++, prs++) {
      if (prs->atom == JS_ATOM_NULL) continue;
      tr->globals[tr->n_globals++] = JS_DupAtom(ctx, prs->atom);
    }
    qsort(tr->globals, tr->n_globals, sizeof(JSAtom), curio_atom_cmp);
  }
}

/* The summary's error for exception `exc`: its name, message and line. */
static void curio_put_error(CurioTrace *tr, DynBuf *b, JSValueConst exc, int line) {
  JSValue name = JS_UNDEFINED, message = JS_UNDEFINED;
  bool is_error = JS_VALUE_GET_NORM_TAG(exc) == JS_TAG_OBJECT && JS_VALUE_GET_OBJ(exc)->class_id == JS_CLASS_ERROR;
  DynBuf kind, text;
  dbuf_init(&kind);
  dbuf_init(&text);
  if (is_error) {
    JSObject *p = JS_VALUE_GET_OBJ(exc);
    if (curio_chain_data(p, JS_ATOM_name, &name) && JS_VALUE_GET_NORM_TAG(name) == JS_TAG_STRING)
      curio_put_string(&kind, JS_VALUE_GET_STRING(name), 0, CURIO_MAX_NAME + 8);
    if (curio_own_data(p, JS_ATOM_message, &message) && JS_VALUE_GET_NORM_TAG(message) == JS_TAG_STRING)
      curio_put_string(&text, JS_VALUE_GET_STRING(message), 0, tr->cap + 8);
  } else {
    JSObject *path[CURIO_MAX_NEST];
    dbuf_putstr(&kind, "Uncaught");
    curio_repr(tr, &text, exc, 0, path, tr->cap + 8);
  }
  if (kind.size == 0) dbuf_putstr(&kind, "Error");
  /* The engine's own out-of-memory error is the host's MemoryError. */
  if (kind.size == 13 && !memcmp(kind.buf, "InternalError", 13) && text.size == 13 &&
      !memcmp(text.buf, "out of memory", 13)) {
    kind.size = 0;
    dbuf_putstr(&kind, "MemoryError");
  }
  dbuf_putstr(b, "{\"type\": ");
  curio_put_json_capped(b, kind.buf ? kind.buf : (const uint8_t *)"", kind.size, CURIO_MAX_NAME);
  dbuf_putstr(b, ", \"message\": ");
  curio_put_json_capped(b, text.buf ? text.buf : (const uint8_t *)"", text.size, tr->cap);
  if (line > 0) dbuf_printf(b, ", \"line\": %d}", line);
  else dbuf_putstr(b, ", \"line\": null}");
  dbuf_free(&kind);
  dbuf_free(&text);
}

static char *curio_summary(CurioTrace *tr, const char *status, JSValueConst *exc, int line, size_t *len) {
  DynBuf b;
  dbuf_init(&b);
  dbuf_printf(&b, "{\"status\": \"%s\", \"error\": ", status);
  if (exc) curio_put_error(tr, &b, *exc, line);
  else dbuf_putstr(&b, "null");
  dbuf_putstr(&b, ", \"stdout\": ");
  curio_put_json(&b, (const char *)tr->pending.buf, tr->pending.size);
  dbuf_putc(&b, '}');
  tr->pending.size = 0;
  if (b.error) {
    dbuf_free(&b);
    return NULL;
  }
  dbuf_putc(&b, 0);
  *len = b.size - 1;
  return (char *)b.buf;
}

static uint64_t curio_mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

char *curio_run_js(const char *source, size_t source_len, const char *input, size_t input_len, int64_t seed,
                   uint32_t repr_cap, const CurioHooks *hooks, size_t *summary_len) {
  static const char OUT_OF_MEMORY[] =
      "{\"status\": \"exception\", \"error\": {\"type\": \"MemoryError\", \"message\": \"not enough memory\", "
      "\"line\": null}, \"stdout\": \"\"}";
  CurioTrace *tr = calloc(1, sizeof(CurioTrace));
  JSRuntime *rt = tr ? JS_NewRuntime() : NULL;
  JSContext *ctx = rt ? JS_NewContext(rt) : NULL;
  char *summary = NULL;
  if (!ctx) goto oom;
  tr->hooks = *hooks;
  tr->ctx = ctx;
  /* The host's caps are far below this; it keeps `cap + 8` from wrapping. */
  tr->cap = repr_cap < (1u << 24) ? repr_cap : (1u << 24);
  tr->error = JS_UNDEFINED;
  tr->rejection = JS_UNDEFINED;
  JS_SetHostPromiseRejectionTracker(rt, curio_rejection, tr);
  tr->source = source;
  tr->source_len = source_len;
  tr->input = input;
  tr->input_len = input_len;
  dbuf_init(&tr->pending);
  ctx->random_state = curio_mix((uint64_t)seed) | 1;
  curio_install(ctx, tr);
  tr->file = JS_NewAtom(ctx, "<program>");

  /* The program needs a terminating NUL for the parser. */
  char *text = malloc(source_len + 1);
  if (!text) goto oom;
  memcpy(text, source, source_len);
  text[source_len] = 0;
  JSValue compiled = JS_Eval(ctx, text, source_len, "<program>", JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_COMPILE_ONLY);
  free(text);
  if (JS_IsException(compiled)) {
    JSValue exc = JS_GetException(ctx);
    summary = curio_summary(tr, "invalid_program", &exc, rt->curio_parse_line, summary_len);
    JS_FreeValue(ctx, exc);
    goto done;
  }
  tr->program = JS_VALUE_GET_PTR(compiled);
  /* No code is made from text once the program runs: eval, Function and
   * their kin throw. */
  ctx->eval_internal = NULL;
  rt->curio = tr;
  JSValue result = JS_EvalFunction(ctx, compiled);
  JSContext *job_ctx;
  while (!JS_IsException(result) && JS_IsJobPending(rt)) {
    if (JS_ExecutePendingJob(rt, &job_ctx) < 0) {
      JS_FreeValue(ctx, result);
      result = JS_EXCEPTION;
    }
  }
  rt->curio = NULL;
  if (JS_IsException(result)) {
    JSValue exc = JS_GetException(ctx);
    summary = curio_summary(tr, "exception", &exc, tr->error_seen ? tr->error_line : 0, summary_len);
    JS_FreeValue(ctx, exc);
  } else if (!JS_IsUndefined(tr->rejection)) {
    /* A rejected promise nobody handled ends the run as Node ends it. */
    JS_FreeValue(ctx, result);
    summary = curio_summary(tr, "exception", &tr->rejection, tr->rejection_line, summary_len);
  } else {
    JS_FreeValue(ctx, result);
    summary = curio_summary(tr, "ok", NULL, 0, summary_len);
  }
done:
#ifndef __wasi__
  /* The guest's instance is dropped whole; the native build runs many. */
  JS_FreeValue(ctx, tr->error);
  JS_FreeValue(ctx, tr->rejection);
  for (uint32_t i = 0; i < tr->n_globals; i++) JS_FreeAtom(ctx, tr->globals[i]);
  JS_FreeAtom(ctx, tr->file);
  JS_FreeContext(ctx);
  JS_FreeRuntime(rt);
  free(tr->globals);
  free(tr->words);
  dbuf_free(&tr->pending);
  free(tr);
#endif
  if (!summary) goto oom;
  return summary;
oom:
  summary = malloc(sizeof OUT_OF_MEMORY);
  if (summary) {
    memcpy(summary, OUT_OF_MEMORY, sizeof OUT_OF_MEMORY);
    *summary_len = sizeof OUT_OF_MEMORY - 1;
  }
  return summary;
}
