/* decode.c — strict RFC 8259 JSON text to Lua values, built in place: the grammar, the Lua
 * stack, strings and their escapes.
 *
 * An iterative parser (no C recursion, so nesting depth cannot overflow the C stack): each open
 * container collects its items on the Lua stack above a placeholder slot and becomes a table
 * presized with the exact counts when it closes. The byte scanners are in scan.h, the number
 * literals in number.c, UTF-8 validity in utf8.h, and whether a string comes from a cache in
 * string_cache.h.
 *
 * The Lua stack of one call, from `base`, the caller's top, up:
 *
 *   base + MT_SLOT        array_mt, for every array
 *   base + FRAMES_SLOT    the userdata of the frames once they outgrow the C stack, or nil
 *   base + SCRATCH_SLOT   the userdata of the scratch buffer for escaped strings, or nil
 *   base + STRINGS_SLOT   the string cache's slots (lc_strings_open): the key cache, its table,
 *   ...                   then this call's near keys or values
 *   bottom + 1 ...        the open containers, outermost first: each a placeholder (nil, or its
 *                         table once flushed) at its frame's `base`, then its pending items (an
 *                         object's as key, value, key, value ...); then the value being read
 *
 * At the end the value, the one item above `bottom`, replaces base + 1 and the rest is dropped. */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "leadconduit.h"
#include "number.h"
#include "scan.h"
#include "string_cache.h"
#include "utf8.h"

typedef unsigned char uchar;

enum { KIND_ARRAY, KIND_OBJECT };

/* The call's own slots, above `base` (see above). */
enum { MT_SLOT = 1, FRAMES_SLOT, SCRATCH_SLOT, STRINGS_SLOT };

/* Frames kept on the C stack before the frame buffer moves to a userdata. */
#define STATIC_FRAMES 32

/* Slots of Lua stack the parser keeps guaranteed above its top (a value plus
 * temporaries of a flush, a close or a string cache's push). */
#define STACK_MARGIN 8

/* The high-water mark of the stack: above this many slots in use, opening a container first moves
 * the parent's pending items into the parent's table, so the stack grows with depth only by about
 * two slots per level. Lua 5.1/LuaJIT allow a C function 8000 slots. */
#if LUA_VERSION_NUM >= 502
#define HIGH_WATER 32768
#else
#define HIGH_WATER 1000
#endif

/* A container with this many pending slots is flushed into its table. */
#define CHUNK 65536

/* One open container. Its slot `base` holds a placeholder (nil) until the
 * container is flushed early, then its table; pending items sit above it. */
typedef struct {
    int base;
    int count; /* array items already stored in the table */
    int kind;
    int has_table;
    lc_object_keys keys; /* an object's: where its keys came from */
} frame;

typedef struct {
    lua_State *L;
    const uchar *start, *end;
    int base;     /* the caller's top: the call's own slots are above it */
    int bottom;   /* stack index below the first decoded value */
    int top;      /* mirror of lua_gettop(L) */
    int room_top; /* lua_checkstack guaranteed slots up to this index */
    frame *frames;
    frame *inner; /* the innermost open container, frames[depth - 1]; NULL at depth 0 */
    int frames_cap;
    int depth, max_depth;
    char *scratch;
    size_t scratch_cap;
    const uchar *err_at;
    char err[96];
    lc_strings strings;
} decoder;

/* ---- errors ---------------------------------------------------------------------------------- */

/* Record the error at `at`, the one place an error is recorded; returns NULL, so that a caller
 * can `return fail(...)`. */
static const uchar *fail(decoder *d, const uchar *at, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static const uchar *fail(decoder *d, const uchar *at, const char *format, ...)
{
    va_list ap;

    d->err_at = at;
    va_start(ap, format);
    vsnprintf(d->err, sizeof d->err, format, ap);
    va_end(ap);
    return NULL;
}

/* The error of a byte at `at` that is not what the grammar wants there (`context` says what it
 * wants, or is empty). */
static const uchar *unexpected(decoder *d, const uchar *at, const char *context)
{
    if (at == d->end) /* the NUL after the text: the parser tests for the end only here */
        return fail(d, at, "unexpected end of input");
    if (*at >= 0x21 && *at < 0x7f)
        return fail(d, at, "unexpected character '%c'%s", *at, context);
    return fail(d, at, "unexpected byte 0x%02X%s", *at, context);
}

static void push_error(decoder *d)
{
    size_t off = (size_t)(d->err_at - d->start), i, line = 1, line_start = 0;

    for (i = 0; i < off; i++) {
        if (d->start[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    lua_pushfstring(d->L, "leadconduit.decode: %s at byte %d (line %d, column %d)", d->err,
                    (int)(off + 1 > INT_MAX ? INT_MAX : off + 1), (int)(line > INT_MAX ? INT_MAX : line),
                    (int)(off - line_start + 1 > INT_MAX ? INT_MAX : off - line_start + 1));
}

/* A buffer of at least `size` bytes that lives as long as the decode. */
static char *scratch(decoder *d, size_t size)
{
    if (size > d->scratch_cap) {
        size_t cap = d->scratch_cap * 2;

        if (cap < size)
            cap = size;
        if (cap < 256)
            cap = 256;
        d->scratch = lc_newuserdata(d->L, cap); /* uses the margin slot */
        lua_replace(d->L, d->base + SCRATCH_SLOT);
        d->scratch_cap = cap;
    }
    return d->scratch;
}

/* ---- containers ------------------------------------------------------------------------------ */

/* Move the innermost container's pending items into its table (created here
 * if needed). An object may have a key waiting for its value: it stays. */
static void flush(decoder *d)
{
    lua_State *L = d->L;
    frame *f = d->inner;
    int base = f->base, n = d->top - base, i;

    if (f->kind == KIND_ARRAY) {
        if (!f->has_table) {
            lua_createtable(L, n, 0);
            lua_replace(L, base);
            f->has_table = 1;
            for (i = n; i >= 1; i--) /* pops the items, last first */
                lua_rawseti(L, base, i);
        } else if (n > 0) {
            for (i = 1; i <= n; i++) {
                lua_pushvalue(L, base + i);
                lua_rawseti(L, base, f->count + i);
            }
            lua_settop(L, base);
        }
        f->count += n;
        d->top = base;
    } else {
        int pairs = n / 2, dangling = n & 1;

        if (!f->has_table) {
            lua_createtable(L, 0, pairs);
            lua_replace(L, base);
            f->has_table = 1;
        }
        for (i = 0; i < pairs; i++) {
            lua_pushvalue(L, base + 1 + 2 * i);
            lua_pushvalue(L, base + 2 + 2 * i);
            lua_rawset(L, base);
        }
        if (dangling && n > 1) {
            lua_pushvalue(L, base + n);
            lua_replace(L, base + 1);
        }
        lua_settop(L, base + dangling);
        d->top = base + dangling;
    }
}

/* Grow the guaranteed stack; at Lua's limit, first store the innermost
 * container's pending items into its table. */
static int grow_stack(decoder *d)
{
    int want = d->top - d->bottom;

    if (want < 256)
        want = 256;
    if (lua_checkstack(d->L, want)) {
        d->room_top = d->top + want;
        return 1;
    }
    /* Lua's stack limit: store what the innermost container holds, then retry
     * with the smallest request. */
    if (d->depth > 0)
        flush(d);
    if (lua_checkstack(d->L, STACK_MARGIN)) {
        d->room_top = d->top + STACK_MARGIN;
        return 1;
    }
    return 0;
}

/* Make sure STACK_MARGIN slots are free above the top (inline: once per value). */
LC_ALWAYS_INLINE int reserve(decoder *d)
{
    return d->top + STACK_MARGIN <= d->room_top || grow_stack(d);
}

static int grow_frames(decoder *d)
{
    int cap = d->frames_cap * 2;
    frame *nf;

    if (cap > d->max_depth + 1)
        cap = d->max_depth + 1;
    nf = lc_newuserdata(d->L, (size_t)cap * sizeof *nf); /* uses the margin slot */
    memcpy(nf, d->frames, (size_t)d->depth * sizeof *nf);
    lua_replace(d->L, d->base + FRAMES_SLOT);
    d->frames = nf;
    d->frames_cap = cap;
    return 1;
}

/* The innermost container is closed: its parent, if any, is the innermost now. */
LC_ALWAYS_INLINE void close_frame(decoder *d)
{
    d->depth--;
    d->inner = d->depth > 0 ? d->inner - 1 : NULL;
}

LC_ALWAYS_INLINE const uchar *open_container(decoder *d, const uchar *p, int kind)
{
    frame *f;

    if (d->depth >= d->max_depth)
        return fail(d, p, "nesting deeper than max_depth (%d)", d->max_depth);
    if (d->depth > 0 && d->top - d->bottom > HIGH_WATER)
        flush(d);
    if (d->depth == d->frames_cap)
        grow_frames(d);
    lua_pushnil(d->L); /* placeholder for the table */
    d->top++;
    f = d->inner = &d->frames[d->depth++];
    f->base = d->top;
    f->count = 0;
    f->kind = kind;
    f->has_table = 0;
    if (kind == KIND_OBJECT)
        lc_object_keys_begin(&d->strings, &f->keys);
    return p + 1;
}

/* Turn the innermost array's items into its table, at its base slot. */
LC_ALWAYS_INLINE void close_array(decoder *d)
{
    int base = d->inner->base;

    flush(d);
    lua_pushvalue(d->L, d->base + MT_SLOT);
    lua_setmetatable(d->L, base);
    close_frame(d);
}

/* Push an empty array, `[]` with or without whitespace inside, within the nesting limit: its
 * table is made at once, with no frame to open and close (most arrays of some documents are
 * empty). Like a string or a number it takes one slot, so none of open_container's flush and
 * growth of the frames is due. */
LC_ALWAYS_INLINE void push_empty_array(decoder *d)
{
    lua_createtable(d->L, 0, 0);
    lua_pushvalue(d->L, d->base + MT_SLOT); /* uses the margin slot */
    lua_setmetatable(d->L, -2);
}

/* Turn the innermost object's key/value pairs into its table, at its base slot. Pairs go in
 * document order, so that a duplicated key keeps its last value; but lua_rawset takes its pair
 * from the top of the stack, so the pairs of an object whose keys are known to be distinct
 * (string_cache.h, invariant 4) go in last first, straight off the stack, with no copy of each. */
static void close_object(decoder *d)
{
    lua_State *L = d->L;
    frame *f = d->inner;
    int base = f->base, n = d->top - base, i;

    if (!f->has_table) {
        lua_createtable(L, 0, n / 2);
        lua_replace(L, base);
        if (lc_object_keys_distinct(&d->strings, &f->keys)) {
            for (i = n / 2; i > 0; i--) /* pops the pairs, last first */
                lua_rawset(L, base);
            d->top = base;
            close_frame(d);
            return;
        }
    }
    for (i = base + 1; i < base + n; i += 2) {
        lua_pushvalue(L, i);
        lua_pushvalue(L, i + 1);
        lua_rawset(L, base);
    }
    lua_settop(L, base);
    d->top = base;
    close_frame(d);
}

/* ---- strings --------------------------------------------------------------------------------- */

static int hex_value(uchar c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* ASCII lower case */
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The letters of the one-letter escapes (\u is checked by scan_u_escape). */
static int escape_ok(uchar c)
{
    return c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't';
}

/* The value of the four hex digits at p, which scan_u_escape has checked. */
static long hex4(const uchar *p)
{
    long v = 0;
    int i;

    for (i = 0; i < 4; i++)
        v = v * 16 + hex_value(p[i]);
    return v;
}

/* The same, checking: -1 with the error at the first byte that is not a hex digit, the end of
 * the input included. */
static long checked_hex4(decoder *d, const uchar *p)
{
    int i;

    for (i = 0; i < 4; i++) {
        if (p + i >= d->end) {
            fail(d, d->end, "unexpected end of input in a \\u escape");
            return -1;
        }
        if (hex_value(p[i]) < 0) {
            fail(d, p + i, "invalid \\u escape in string");
            return -1;
        }
    }
    return hex4(p);
}

/* Check the \u escape whose backslash is at bs, with the low surrogate that must follow a high
 * one, when the string is scanned, so that the error is the first one in the text: a bad digit
 * at that digit, a lone or inverted surrogate at its backslash. Returns the byte after it. */
static const uchar *scan_u_escape(decoder *d, const uchar *bs)
{
    const uchar *low = bs + 6;
    long cp = checked_hex4(d, bs + 2), lo;

    if (cp < 0)
        return NULL;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(d, bs, "lone surrogate in \\u escape");
    if (cp < 0xD800 || cp > 0xDBFF)
        return low;
    if (d->end - low < 2 || low[0] != '\\' || low[1] != 'u')
        return fail(d, bs, "lone surrogate in \\u escape");
    if ((lo = checked_hex4(d, low + 2)) < 0)
        return NULL;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return fail(d, bs, "lone surrogate in \\u escape");
    return low + 6;
}

static char *put_utf8(char *o, long cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Decode the escapes of the string body [s, e), which parse_string has checked, and push it.
 * The result is never longer than the body, so one scratch buffer suffices. */
static void push_unescaped(decoder *d, const uchar *s, const uchar *e)
{
    char *out = scratch(d, (size_t)(e - s)), *o = out;
    const uchar *q = s;

    while (q < e) {
        const uchar *bs = memchr(q, '\\', (size_t)(e - q));
        long cp;

        if (bs == NULL) {
            memcpy(o, q, (size_t)(e - q));
            o += e - q;
            break;
        }
        memcpy(o, q, (size_t)(bs - q));
        o += bs - q;
        q = bs + 2;
        switch (bs[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            cp = hex4(q);
            q += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* the low half follows: scan_u_escape saw it */
                cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(q + 2) - 0xDC00);
                q += 6;
            }
            o = put_utf8(o, cp);
            break;
        default: *o++ = (char)bs[1]; break; /* '"', '\\', '/' */
        }
    }
    lua_pushlstring(d->L, out, (size_t)(o - out));
}

/* Push the string [s, s+len) that has no escape: an object's key when is_key (string_cache.h
 * decides whether it comes from a cache). */
LC_ALWAYS_INLINE void push_plain(decoder *d, const uchar *s, size_t len, int is_key)
{
    if (is_key)
        lc_push_key(&d->strings, &d->inner->keys, s, len);
    else
        lc_push_value(&d->strings, s, len);
}

/* The string whose body starts at s, from p on, the first byte of it that is not plain (or the
 * end of the input): checks and pushes it, returns past the closing quote. */
static const uchar *parse_string(decoder *d, const uchar *s, const uchar *p, int is_key)
{
    const uchar *end = d->end;
    int escaped = 0;

    for (;;) {
        if (p >= end)
            return fail(d, end, "unterminated string");
        switch (lc_string_class(*p)) {
        case LC_PLAIN: p++; break;
        case LC_QUOTE:
            if (escaped) {
                if (is_key)
                    lc_object_keys_other(&d->inner->keys);
                push_unescaped(d, s, p);
            } else
                push_plain(d, s, (size_t)(p - s), is_key);
            return p + 1;
        case LC_BACKSLASH:
            if (end - p < 2)
                return fail(d, end, "unterminated string");
            if (p[1] == 'u') {
                if ((p = scan_u_escape(d, p)) == NULL)
                    return NULL;
            } else if (escape_ok(p[1])) {
                p += 2;
            } else {
                return fail(d, p + 1, "invalid escape in string");
            }
            escaped = 1;
            break;
        case LC_CONTROL: return fail(d, p, "unescaped control character in string");
        default: /* non-ASCII text tends to come in runs: take the run */
            p = lc_utf8_run(p, end);
            if (p < end && *p >= 0x80)
                return fail(d, p, "invalid UTF-8 in string");
            break;
        }
        p = lc_skip_plain(p, end);
    }
}

/* s points after the opening quote; pushes the string (an object's key when is_key), returns
 * past the closing quote. Nearly every string is plain ASCII with no escape: it is pushed here,
 * inline in the parser, which saves a call per string;
 * parse_string takes the rest from the first byte that needs a look. */
LC_ALWAYS_INLINE const uchar *string(decoder *d, const uchar *s, int is_key)
{
    const uchar *p = lc_skip_plain(s, d->end);

    if (*p != '"') /* the NUL after the text, too */
        return parse_string(d, s, p, is_key);
    push_plain(d, s, (size_t)(p - s), is_key);
    return p + 1;
}

/* s is after a key's opening quote: pushes the key, returns past its closing quote. The key that
 * came after the object's last key the last time is tried first, in place (string_cache.h): objects
 * of one shape give their keys in the same order, and a match needs no scan for the key's end, no
 * hash and no search of a set. */
LC_ALWAYS_INLINE const uchar *key(decoder *d, const uchar *s)
{
    const uchar *after = lc_push_next_key(&d->strings, &d->inner->keys, s, d->end);

    return after != NULL ? after : string(d, s, 1);
}

/* ---- numbers ------------------------------------------------------------------------------ */

/* Push the number literal at p (number.c reads it); returns the byte after it. */
static const uchar *push_any_number(decoder *d, const uchar *p)
{
    lc_number n;

    p = lc_number_parse(p, d->end, &n);
    if (p == NULL) {
        if (n.out_of_memory)
            luaL_error(d->L, "leadconduit.decode: %s", n.error);
        return fail(d, n.error_at, "%s", n.error);
    }
    if (n.is_integer)
#if LC_HAS_INTEGERS
        lua_pushinteger(d->L, (lua_Integer)n.integer);
#else
        lua_pushnumber(d->L, (lua_Number)n.integer); /* exact up to 2^53, else rounded to nearest */
#endif
    else
        lua_pushnumber(d->L, (lua_Number)n.value);
    return p;
}

/* The same, with small integers pushed inline: no call, no lc_number to fill (ids, counts and
 * sizes are nearly all such integers). */
LC_ALWAYS_INLINE const uchar *push_number(decoder *d, const uchar *p)
{
    int32_t small;
    const uchar *after = lc_small_integer(p, d->end, &small);

    if (after == NULL)
        return push_any_number(d, p);
    lua_pushinteger(d->L, (lua_Integer)small);
    return after;
}

/* ---- the parser -------------------------------------------------------------- */

/* Whether the literal `word` of len bytes is at p. A memcmp of a constant length, which the
 * compiler makes a word compare or two: less than a loop over the bytes. */
LC_ALWAYS_INLINE int literal_at(const uchar *p, const uchar *end, const char *word, size_t len)
{
    return (size_t)(end - p) >= len && memcmp(p, word, len) == 0;
}

/* The error of a literal at p that is not `word`: at its first byte that is wrong. */
static const uchar *literal_error(decoder *d, const uchar *p, const char *word)
{
    size_t i;

    for (i = 0; word[i] != '\0'; i++) {
        if (p + i >= d->end)
            return fail(d, d->end, "unexpected end of input");
        if (p[i] != (uchar)word[i])
            return i == 0 ? unexpected(d, p, "") : fail(d, p + i, "invalid literal");
    }
    return fail(d, p, "invalid literal"); /* not reached: literal_at said it is not word */
}

/* Parse one JSON text; on success the value is the only thing above d->bottom, and the end of
 * the text is returned; NULL on an error.
 *
 * The end of the text needs no test of its own between tokens: the NUL byte after the text
 * (leadconduit.h) is no token's first byte, so the test of the byte at p fails at the end too,
 * and `unexpected` tells the end from a wrong byte. */
static const uchar *parse(decoder *d, const uchar *p)
{
    lua_State *L = d->L;
    const uchar *end = d->end;
    frame *f;

value:
    p = lc_skip_ws(p, end);
    if (!reserve(d))
        return p == end ? unexpected(d, p, "") : fail(d, p, "document too large for the Lua stack");
    switch (*p) {
    case '{':
        if ((p = open_container(d, p, KIND_OBJECT)) == NULL)
            return NULL;
        p = lc_skip_ws(p, end);
        if (*p == '}') {
            p++;
            close_object(d);
            goto after_value;
        }
        goto key;
    case '[': {
        const uchar *inside = lc_skip_ws(p + 1, end);

        /* at the limit, open_container tells the error, at the '[' */
        if (*inside == ']' && d->depth < d->max_depth) {
            push_empty_array(d);
            p = inside + 1;
            break;
        }
        if (open_container(d, p, KIND_ARRAY) == NULL)
            return NULL;
        p = inside;
        goto value;
    }
    case '"': p = string(d, p + 1, 0); break;
    case 't':
        if (!literal_at(p, end, "true", 4))
            return literal_error(d, p, "true");
        lua_pushboolean(L, 1);
        p += 4;
        break;
    case 'f':
        if (!literal_at(p, end, "false", 5))
            return literal_error(d, p, "false");
        lua_pushboolean(L, 0);
        p += 5;
        break;
    case 'n':
        if (!literal_at(p, end, "null", 4))
            return literal_error(d, p, "null");
        lua_pushlightuserdata(L, NULL);
        p += 4;
        break;
    /* clang-format off */
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        /* clang-format on */
        p = push_number(d, p);
        break;
    default: return unexpected(d, p, "");
    }
    if (p == NULL)
        return NULL;
    d->top++;

after_value:
    p = lc_skip_ws(p, end);
    if (d->inner == NULL) {
        if (p != end)
            return fail(d, p, "trailing content after the JSON value");
        return p;
    }
    f = d->inner;
    if (f->kind == KIND_ARRAY) {
        if (*p == ',') {
            p++;
            if (d->top - f->base >= CHUNK)
                flush(d);
            goto value;
        }
        if (*p == ']') {
            p++;
            close_array(d);
            goto after_value;
        }
        return unexpected(d, p, ", expected ',' or ']'");
    }
    if (*p == ',') {
        if (d->top - f->base >= CHUNK)
            flush(d);
        p = lc_skip_ws(p + 1, end);
        goto key;
    }
    if (*p == '}') {
        p++;
        close_object(d);
        goto after_value;
    }
    return unexpected(d, p, ", expected ',' or '}'");

key:
    if (*p != '"')
        return unexpected(d, p, ", expected a string key");
    if (!reserve(d))
        return fail(d, p, "document too large for the Lua stack");
    if ((p = key(d, p + 1)) == NULL)
        return NULL;
    d->top++;
    p = lc_skip_ws(p, end);
    if (*p != ':')
        return unexpected(d, p, ", expected ':'");
    p++;
    goto value;
}

int lc_decode_buffer(lua_State *L, const char *text, size_t len, int max_depth, int key_cache)
{
    frame static_frames[STATIC_FRAMES];
    decoder d;

    luaL_checkstack(L, STRINGS_SLOT + LC_STRINGS_SLOTS + STACK_MARGIN, "leadconduit.decode");
    d.base = lua_gettop(L);
    luaL_getmetatable(L, LC_ARRAY_MT); /* MT_SLOT */
    lua_pushnil(L);                    /* FRAMES_SLOT */
    lua_pushnil(L);                    /* SCRATCH_SLOT */
    lc_strings_open(&d.strings, L, key_cache, len);

    d.L = L;
    d.start = (const uchar *)text;
    d.end = d.start + len;
    d.bottom = d.top = lua_gettop(L);
    d.room_top = d.top + STACK_MARGIN;
    d.frames = static_frames;
    d.inner = NULL;
    d.frames_cap = STATIC_FRAMES;
    d.depth = 0;
    d.max_depth = max_depth < 0 ? 0 : max_depth;
    d.scratch = NULL;
    d.scratch_cap = 0;
    d.err_at = d.start;
    d.err[0] = '\0';

    if (parse(&d, d.start) != NULL) {
        lua_replace(L, d.base + 1);
        lua_settop(L, d.base + 1);
        return 1;
    }
    lua_settop(L, d.base);
    push_error(&d);
    return 0;
}

/* opts.max_depth: a non-negative integer, or absent for the default. */
static int option_max_depth(lua_State *L)
{
    int depth = LC_DEFAULT_MAX_DEPTH;

    if (lua_isnoneornil(L, 2))
        return depth;
    if (!lua_istable(L, 2))
        luaL_error(L, "leadconduit.decode: bad argument #2 'opts' (table expected, got %s)",
                   luaL_typename(L, 2));
    lua_getfield(L, 2, "max_depth");
    if (!lua_isnil(L, -1)) {
        lua_Number n;

        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(
                L, "leadconduit.decode: bad argument #2 'opts' (max_depth must be a non-negative integer)");
        n = lua_tonumber(L, -1);
        if (!(n >= 0 && n <= INT_MAX - 1) || n != (lua_Number)(int)n)
            luaL_error(
                L, "leadconduit.decode: bad argument #2 'opts' (max_depth must be a non-negative integer)");
        depth = (int)n;
    }
    lua_pop(L, 1);
    return depth;
}

int lc_decode(lua_State *L)
{
    size_t len;
    const char *text;
    int max_depth;

    /* Numbers too are a programming error. The message names the public function: luaL_argerror
     * would name whichever loaded table Lua finds it in first (leadconduit.public.decode). */
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "leadconduit.decode: bad argument #1 'text' (string expected, got %s)",
                          luaL_typename(L, 1));
    text = lua_tolstring(L, 1, &len);
    max_depth = option_max_depth(L);
    if (lc_decode_buffer(L, text, len, max_depth, lua_upvalueindex(1)))
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}
