/* encode.c — Lua values to JSON text: leadconduit.encode(value [, opts]).
 *
 * The output is deterministic (object keys sorted bytewise) so that the CLI's --json is stable
 * and diffable. Values JSON cannot hold (NaN, infinities, cycles, invalid UTF-8, functions, mixed
 * tables) are returned as nil, errmsg like decode's errors; only memory exhaustion raises. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadconduit.h"
#include "number.h"
#include "utf8.h"

/* Deeper nesting would risk the C stack (encode recurses once per level). */
#define LC_ENCODE_DEPTH_CEILING 10000
#define LC_ENCODE_MAX_INDENT 16

typedef struct {
    lua_State *L;
    char *data; /* owned by the userdata at stack index `slot`, so an error frees it */
    size_t len, cap;
    int slot;
    int visiting; /* stack index: set of the tables being encoded, to catch cycles */
    int array_mt; /* stack index: the decoder's array metatable */
    int max_depth;
    int indent;        /* spaces per level; 0 = compact */
    int infinity;      /* write infinities as 1e999 and -1e999 instead of failing */
    const char *error; /* static text, set when encoding fails */
} encoder;

typedef struct {
    const char *s;
    size_t len;
} key_ref;

static int fail(encoder *e, const char *what)
{
    e->error = what;
    return 0;
}

/* Make room for `need` more bytes: a bigger userdata replaces the old one in its slot. */
static void reserve(encoder *e, size_t need)
{
    size_t cap = e->cap;
    char *data;

    if (need <= e->cap - e->len)
        return;
    while (need > cap - e->len) {
        if (cap > ((size_t)-1) / 2)
            luaL_error(e->L, "leadconduit.encode: output too large");
        cap *= 2;
    }
    data = lc_newuserdata(e->L, cap);
    memcpy(data, e->data, e->len);
    lua_replace(e->L, e->slot);
    e->data = data;
    e->cap = cap;
}

static void put(encoder *e, const char *s, size_t n)
{
    reserve(e, n);
    memcpy(e->data + e->len, s, n);
    e->len += n;
}

static void putch(encoder *e, char c)
{
    reserve(e, 1);
    e->data[e->len++] = c;
}

/* A newline and the indentation of `depth` levels, when pretty-printing. */
static void newline(encoder *e, int depth)
{
    size_t n;

    if (e->indent == 0)
        return;
    n = (size_t)e->indent * (size_t)depth;
    reserve(e, n + 1);
    e->data[e->len++] = '\n';
    memset(e->data + e->len, ' ', n);
    e->len += n;
}

static int encode_string(encoder *e, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run;

    putch(e, '"');
    while (i < n) {
        /* Copy the longest run that needs no escape in one go. */
        run = i;
        while (run < n && s[run] >= 0x20 && s[run] != '"' && s[run] != '\\' && s[run] < 0x80)
            run++;
        put(e, str + i, run - i);
        i = run;
        if (i == n)
            break;
        if (s[i] >= 0x80) {
            size_t len = (size_t)(lc_utf8_run(s + i, s + n) - (s + i));
            if (len == 0)
                return fail(e, "string is not valid UTF-8");
            put(e, str + i, len);
            i += len;
            continue;
        }
        switch (s[i]) {
        case '"': put(e, "\\\"", 2); break;
        case '\\': put(e, "\\\\", 2); break;
        case '\b': put(e, "\\b", 2); break;
        case '\f': put(e, "\\f", 2); break;
        case '\n': put(e, "\\n", 2); break;
        case '\r': put(e, "\\r", 2); break;
        case '\t': put(e, "\\t", 2); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[s[i] >> 4], hex[s[i] & 15]};
            put(e, esc, 6);
        }
        }
        i++;
    }
    putch(e, '"');
    return 1;
}

static int encode_number(encoder *e, int idx)
{
    char buf[64];
    double d;
    int prec, n, i, has_point = 0;
    locale_t c_locale, previous;

#if LC_HAS_INTEGERS
    if (lc_isinteger(e->L, idx)) {
        n = snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(e->L, idx));
        put(e, buf, (size_t)n);
        return 1;
    }
#endif
    d = (double)lua_tonumber(e->L, idx);
    if (isinf(d) && e->infinity) {
        /* A number past a double's range: what the decoder made of one, and makes again. */
        if (d < 0)
            put(e, "-1e999", 6);
        else
            put(e, "1e999", 5);
        return 1;
    }
    if (isnan(d) || isinf(d))
        return fail(e, "NaN and infinity have no JSON representation");
    /* printf and strtod follow the thread's locale, whose decimal point may not be '.':
     * switch this thread to the C locale for the conversion (uselocale is per thread). */
    c_locale = lc_c_locale();
    if (c_locale == (locale_t)0)
        return fail(e, "cannot create the C locale");
    previous = uselocale(c_locale);
    /* The shortest %g form that reads back as the same double. */
    for (prec = 15;; prec++) {
        n = snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (prec >= 17 || strtod(buf, NULL) == d)
            break;
    }
    uselocale(previous);
    for (i = 0; i < n; i++)
        if (buf[i] == '.' || buf[i] == 'e')
            has_point = 1;
    put(e, buf, (size_t)n);
#if LC_HAS_INTEGERS
    /* Keep a float a float: decode("1.0") is a float, so encode gives back "1.0". */
    if (!has_point)
        put(e, ".0", 2);
#else
    (void)has_point; /* every number is a double: integral ones print as integers */
#endif
    return 1;
}

static int compare_keys(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);

    if (c != 0)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static int encode_value(encoder *e, int idx, int depth);

/* Array elements 1..n of the table at idx. */
static int encode_array(encoder *e, int idx, size_t n, int depth)
{
    size_t i;

    putch(e, '[');
    for (i = 1; i <= n; i++) {
        if (i > 1)
            putch(e, ',');
        newline(e, depth + 1);
        lua_rawgeti(e->L, idx, (int)i); /* stack: ... element */
        if (!encode_value(e, lua_gettop(e->L), depth + 1))
            return 0;
        lua_pop(e->L, 1);
    }
    if (n > 0)
        newline(e, depth);
    putch(e, ']');
    return 1;
}

/* The `n` string-keyed fields of the table at idx, keys sorted bytewise. The table may change
 * after encode_table counted it: allocations here run the collector, which clears entries of
 * weak tables and calls finalizers (Lua code that may add or remove keys). So at most n string
 * keys are taken, each also stored in an anchor table (a cleared entry no longer keeps its key
 * alive), and an entry whose value is gone by the time it is written is left out. */
static int encode_object(encoder *e, int idx, size_t n, int depth)
{
    lua_State *L = e->L;
    key_ref *keys;
    size_t i = 0, written = 0;

    if (n > ((size_t)-1) / sizeof *keys || n > (size_t)INT_MAX)
        luaL_error(L, "leadconduit.encode: object too large");
    keys = lc_newuserdata(L, n * sizeof *keys); /* stack: ... keys */
    lua_createtable(L, (int)n, 0);              /* stack: ... keys anchor */
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) { /* nothing in this loop allocates, so the table holds still */
        lua_pop(L, 1);
        if (i < n && lua_type(L, -1) == LUA_TSTRING) {
            keys[i].s = lua_tolstring(L, -1, &keys[i].len);
            lua_pushvalue(L, -1);
            lua_rawseti(L, -3, (int)++i);
        }
    }
    n = i;
    qsort(keys, n, sizeof *keys, compare_keys);

    putch(e, '{');
    for (i = 0; i < n; i++) {
        lua_pushlstring(L, keys[i].s, keys[i].len);
        lua_rawget(L, idx); /* stack: ... keys anchor value */
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        if (written++ > 0)
            putch(e, ',');
        newline(e, depth + 1);
        if (!encode_string(e, keys[i].s, keys[i].len))
            return 0;
        if (e->indent)
            put(e, ": ", 2);
        else
            putch(e, ':');
        if (!encode_value(e, lua_gettop(L), depth + 1))
            return 0;
        lua_pop(L, 1);
    }
    if (written > 0)
        newline(e, depth);
    putch(e, '}');
    lua_pop(L, 2); /* keys, anchor */
    return 1;
}

/* A table is an array when it carries array_mt or its keys are exactly 1..n; an object when
 * every key is a string; anything else has no faithful JSON form. */
static int encode_table(encoder *e, int idx, int depth)
{
    lua_State *L = e->L;
    size_t count = 0, strings = 0, indices = 0;
    lua_Number max_index = 0;
    int is_array_mt, ok;

    if (depth >= e->max_depth)
        return fail(e, "nesting deeper than max_depth");
    if (!lua_checkstack(L, 8))
        return fail(e, "nesting too deep for the Lua stack");

    lua_pushvalue(L, idx);
    lua_rawget(L, e->visiting);
    ok = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!ok)
        return fail(e, "table contains a reference to itself (a cycle)");

    is_array_mt = 0;
    if (lua_getmetatable(L, idx)) {
        is_array_mt = lua_rawequal(L, -1, e->array_mt);
        lua_pop(L, 1);
    }

    lua_pushnil(L);
    while (lua_next(L, idx) != 0) { /* stack: ... key value */
        count++;
        if (lua_type(L, -2) == LUA_TSTRING) {
            strings++;
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
            lua_Number k = lua_tonumber(L, -2);
            if (k >= 1 && floor(k) == k) {
                indices++;
                if (k > max_index)
                    max_index = k;
            }
        }
        lua_pop(L, 1);
    }

    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, e->visiting);

    if (count == 0) {
        put(e, is_array_mt ? "[]" : "{}", 2);
        ok = 1;
    } else if (indices == count && max_index == (lua_Number)count) {
        ok = encode_array(e, idx, count, depth);
    } else if (strings == count && !is_array_mt) {
        ok = encode_object(e, idx, count, depth);
    } else if (strings > 0 && indices > 0) {
        return fail(e, "table mixes string and number keys");
    } else if (indices == count) {
        return fail(e, "sparse array (holes are not JSON; use leadconduit.null)");
    } else if (is_array_mt && strings == count) {
        return fail(e, "table with array_mt has string keys");
    } else {
        return fail(e, "table key is neither a string nor an array index");
    }
    if (!ok)
        return 0;

    lua_pushvalue(L, idx);
    lua_pushnil(L);
    lua_rawset(L, e->visiting); /* shared, non-cyclic references are fine */
    return 1;
}

/* Encode the value at stack index idx (absolute). Leaves the stack as it found it on success. */
static int encode_value(encoder *e, int idx, int depth)
{
    lua_State *L = e->L;

    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return encode_string(e, s, n);
    }
    case LUA_TNUMBER: return encode_number(e, idx);
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            put(e, "true", 4);
        else
            put(e, "false", 5);
        return 1;
    case LUA_TTABLE: return encode_table(e, idx, depth);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            put(e, "null", 4);
            return 1;
        }
        return fail(e, "cannot encode a light userdata other than leadconduit.null");
    case LUA_TNIL: return fail(e, "cannot encode nil (JSON null is leadconduit.null)");
    case LUA_TFUNCTION: return fail(e, "cannot encode a function");
    case LUA_TUSERDATA: return fail(e, "cannot encode a userdata");
    case LUA_TTHREAD: return fail(e, "cannot encode a thread");
    default: return fail(e, "cannot encode this Lua type");
    }
}

/* Read an integer option in [lo, hi] from the opts table at index 2, or raise. */
static int int_option(lua_State *L, const char *name, int dflt, int lo, int hi)
{
    lua_Number v;
    int result = dflt;

    lua_getfield(L, 2, name);
    if (!lua_isnil(L, -1)) {
        v = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || floor(v) != v || v < lo || v > hi)
            luaL_error(L, "leadconduit.encode: opts.%s must be an integer from %d to %d", name, lo, hi);
        result = (int)v;
    }
    lua_pop(L, 1);
    return result;
}

/* leadconduit.encode(value [, opts]) -> json | nil, errmsg
 * opts.indent: spaces per nesting level (0, the default, is compact);
 * opts.max_depth: deepest nesting of arrays/objects (default LC_DEFAULT_MAX_DEPTH);
 * opts.infinity: true writes infinities as 1e999 and -1e999, numbers that read back as them
 * (NaN still fails: no JSON text decodes to it). */
int lc_encode(lua_State *L)
{
    encoder e;

    /* Messages name the public function, not the loaded table Lua would find it in. */
    if (lua_isnone(L, 1))
        return luaL_error(L, "leadconduit.encode: bad argument #1 'value' (value expected)");
    if (!lua_isnoneornil(L, 2) && !lua_istable(L, 2))
        return luaL_error(L, "leadconduit.encode: bad argument #2 'opts' (table expected, got %s)",
                          luaL_typename(L, 2));
    lua_settop(L, 2);

    e.L = L;
    e.len = 0;
    e.error = NULL;
    e.indent = 0;
    e.max_depth = LC_DEFAULT_MAX_DEPTH;
    e.infinity = 0;
    if (lua_istable(L, 2)) {
        e.indent = int_option(L, "indent", 0, 0, LC_ENCODE_MAX_INDENT);
        e.max_depth = int_option(L, "max_depth", LC_DEFAULT_MAX_DEPTH, 1, LC_ENCODE_DEPTH_CEILING);
        lua_getfield(L, 2, "infinity");
        e.infinity = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }

    e.cap = 256;
    e.data = lc_newuserdata(L, e.cap); /* 3: output buffer */
    e.slot = 3;
    lua_newtable(L); /* 4: tables being encoded */
    e.visiting = 4;
    luaL_getmetatable(L, LC_ARRAY_MT); /* 5: array_mt (nil if never created) */
    e.array_mt = 5;

    if (!encode_value(&e, 1, 0)) {
        lua_pushnil(L);
        lua_pushfstring(L, "leadconduit.encode: %s", e.error);
        return 2;
    }
    lua_pushlstring(L, e.data, e.len);
    return 1;
}
