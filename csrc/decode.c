/* decode.c — strict RFC 8259 JSON text to Lua values, built in place.
 *
 * An iterative parser (no C recursion, so nesting depth cannot overflow the C
 * stack): each open container collects its items on the Lua stack above a
 * placeholder slot and becomes a table presized with the exact counts when it
 * closes. Number arithmetic lives in number.c; the public API in leadconduit.h. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "leadconduit.h"
#include "number.h"

typedef unsigned char uchar;

enum { KIND_ARRAY, KIND_OBJECT };

/* One open container. Its slot `base` holds a placeholder (nil) until the
 * container is flushed early, then its table; pending items sit above it. */
typedef struct {
    int base;
    int count;     /* array items already stored in the table */
    int kind;
    int has_table;
} frame;

/* Frames kept on the C stack before the frame buffer moves to a userdata. */
#define STATIC_FRAMES 32

/* Slots of Lua stack the parser keeps guaranteed above its top (a value plus
 * temporaries of a flush or close). */
#define STACK_MARGIN 8

/* Above this many slots in use, opening a container first moves the parent's
 * pending items into the parent's table, so the stack grows with depth only by
 * about two slots per level. Lua 5.1/LuaJIT allow a C function 8000 slots. */
#if LUA_VERSION_NUM >= 502
#define LOW_WATER 32768
#else
#define LOW_WATER 1000
#endif

/* A container with this many pending slots is flushed into its table. */
#define CHUNK 65536

typedef struct {
    lua_State *L;
    const uchar *start, *end;
    int top;          /* mirror of lua_gettop(L) */
    int room_top;     /* lua_checkstack guaranteed slots up to this index */
    int bottom;       /* stack index below the first decoded value */
    int mt_slot;      /* array_mt */
    int frames_slot;  /* userdata holding frames once depth > STATIC_FRAMES */
    int scratch_slot; /* userdata holding the scratch buffer */
    frame *frames;
    int frames_cap;
    int depth, max_depth;
    char *scratch;
    size_t scratch_cap;
    const uchar *err_at;
    char err[96];
} decoder;

/* Byte classes inside strings. Computed, not tabled: no table to initialize
 * at run time, so nothing is shared between threads. */
enum { SC_PLAIN, SC_QUOTE, SC_BACKSLASH, SC_CONTROL, SC_HIGH };

static int string_class(uchar c)
{
    if (c == '"')
        return SC_QUOTE;
    if (c == '\\')
        return SC_BACKSLASH;
    return c < 0x20 ? SC_CONTROL : c >= 0x80 ? SC_HIGH : SC_PLAIN;
}

static int hex_value(uchar c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* ASCII lower case */
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int escape_ok(uchar c)
{
    return c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't' ||
           c == 'u';
}

/* Record an error at `at`; returns NULL so callers can `return fail(...)`. */
static const uchar *fail(decoder *d, const uchar *at, const char *what)
{
    d->err_at = at;
    snprintf(d->err, sizeof d->err, "%s", what);
    return NULL;
}

static const uchar *fail_char(decoder *d, const uchar *at, const char *context)
{
    d->err_at = at;
    if (*at >= 0x21 && *at < 0x7f)
        snprintf(d->err, sizeof d->err, "unexpected character '%c'%s", *at, context);
    else
        snprintf(d->err, sizeof d->err, "unexpected byte 0x%02X%s", *at, context);
    return NULL;
}

/* The same, for the parser loop that returns 0 on error. */
static int error_at(decoder *d, const uchar *at, const char *what)
{
    fail(d, at, what);
    return 0;
}

static int error_char(decoder *d, const uchar *at, const char *context)
{
    fail_char(d, at, context);
    return 0;
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

/* Whitespace between tokens. Compact documents have none (the inline check in
 * ws() answers without a call); pretty-printed ones have runs of indentation
 * (citm_catalog.json is 70% spaces), measured a block at a time. */
static const uchar *skip_ws(const uchar *p, const uchar *end)
{
    while (p < end) {
        if (*p == ' ') {
#ifdef __SSE2__
            const __m128i spaces = _mm_set1_epi8(' ');

            while (end - p >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
                unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, spaces));

                if (mask != 0xFFFF) {
                    p += __builtin_ctz(~mask);
                    break;
                }
                p += 16;
            }
#endif
            while (p < end && *p == ' ')
                p++;
        } else if (*p == '\n' || *p == '\r' || *p == '\t') {
            p++;
        } else {
            break;
        }
    }
    return p;
}

static inline __attribute__((always_inline)) const uchar *ws(const uchar *p, const uchar *end)
{
    return p < end && *p > ' ' ? p : skip_ws(p, end);
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
        d->scratch = lua_newuserdata(d->L, cap); /* uses the margin slot */
        lua_replace(d->L, d->scratch_slot);
        d->scratch_cap = cap;
    }
    return d->scratch;
}

/* ---- containers ---------------------------------------------------------- */

/* Move the innermost container's pending items into its table (created here
 * if needed). An object may have a key waiting for its value: it stays. */
static void flush(decoder *d)
{
    lua_State *L = d->L;
    frame *f = &d->frames[d->depth - 1];
    int base = f->base, n = d->top - base, i;

    if (f->kind == KIND_ARRAY) {
        if (n == 0)
            return;
        if (!f->has_table) {
            lua_createtable(L, n, 0);
            lua_replace(L, base);
            f->has_table = 1;
            for (i = n; i >= 1; i--)
                lua_rawseti(L, base, i);
        } else {
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
static inline __attribute__((always_inline)) int reserve(decoder *d)
{
    return d->top + STACK_MARGIN <= d->room_top || grow_stack(d);
}

static int grow_frames(decoder *d)
{
    int cap = d->frames_cap * 2;
    frame *nf;

    if (cap > d->max_depth + 1)
        cap = d->max_depth + 1;
    nf = lua_newuserdata(d->L, (size_t)cap * sizeof *nf); /* uses the margin slot */
    memcpy(nf, d->frames, (size_t)d->depth * sizeof *nf);
    lua_replace(d->L, d->frames_slot);
    d->frames = nf;
    d->frames_cap = cap;
    return 1;
}

static const uchar *open_container(decoder *d, const uchar *p, int kind)
{
    frame *f;

    if (d->depth >= d->max_depth) {
        d->err_at = p;
        snprintf(d->err, sizeof d->err, "nesting deeper than max_depth (%d)", d->max_depth);
        return NULL;
    }
    if (d->depth > 0 && d->top - d->bottom > LOW_WATER)
        flush(d);
    if (d->depth == d->frames_cap)
        grow_frames(d);
    lua_pushnil(d->L); /* placeholder for the table */
    d->top++;
    f = &d->frames[d->depth++];
    f->base = d->top;
    f->count = 0;
    f->kind = kind;
    f->has_table = 0;
    return p + 1;
}

/* Turn the innermost array's items into a table at its base slot. */
static void close_array(decoder *d)
{
    lua_State *L = d->L;
    frame *f = &d->frames[d->depth - 1];
    int base = f->base, n = d->top - base, i;

    if (!f->has_table) {
        lua_createtable(L, n, 0);
        lua_replace(L, base);
        for (i = n; i >= 1; i--) /* pops the items, last first */
            lua_rawseti(L, base, i);
    } else if (n > 0) {
        for (i = 1; i <= n; i++) {
            lua_pushvalue(L, base + i);
            lua_rawseti(L, base, f->count + i);
        }
        lua_settop(L, base);
    }
    lua_pushvalue(L, d->mt_slot);
    lua_setmetatable(L, base);
    d->top = base;
    d->depth--;
}

/* Turn the innermost object's key/value pairs into a table at its base slot.
 * Pairs go in document order, so a duplicated key keeps its last value. */
static void close_object(decoder *d)
{
    lua_State *L = d->L;
    frame *f = &d->frames[d->depth - 1];
    int base = f->base, n = d->top - base, i;

    if (!f->has_table) {
        lua_createtable(L, 0, n / 2);
        lua_replace(L, base);
    }
    for (i = base + 1; i < base + n; i += 2) {
        lua_pushvalue(L, i);
        lua_pushvalue(L, i + 1);
        lua_rawset(L, base);
    }
    lua_settop(L, base);
    d->top = base;
    d->depth--;
}

/* ---- strings --------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence starting with a byte >= 0x80, or 0. */
static int utf8_length(const uchar *p, const uchar *end)
{
    uchar c = p[0];
    ptrdiff_t avail = end - p;

    if (c >= 0xC2 && c <= 0xDF)
        return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        uchar lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF; /* no overlong, no surrogates */
        return avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        uchar lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF; /* no overlong, <= U+10FFFF */
        return avail >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 &&
                       (p[3] & 0xC0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

static long hex4(const uchar *p, const uchar *end)
{
    long v = 0;
    int i;

    if (end - p < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        int h = hex_value(p[i]);

        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
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

/* Decode the escapes of the already validated string body [s, e) and push it.
 * The result is never longer than the body, so one scratch buffer suffices. */
static const uchar *push_unescaped(decoder *d, const uchar *s, const uchar *e)
{
    char *out = scratch(d, (size_t)(e - s)), *o = out;
    const uchar *q = s;

    while (q < e) {
        const uchar *bs = memchr(q, '\\', (size_t)(e - q));
        long cp, lo;

        if (bs == NULL) {
            memcpy(o, q, (size_t)(e - q));
            o += e - q;
            break;
        }
        memcpy(o, q, (size_t)(bs - q));
        o += bs - q;
        q = bs + 2; /* the scan made sure an escape letter follows inside the body */
        switch (bs[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            cp = hex4(q, e);
            if (cp < 0)
                return fail(d, bs, "invalid \\u escape in string");
            q += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (e - q < 2 || q[0] != '\\' || q[1] != 'u')
                    return fail(d, bs, "lone surrogate in \\u escape");
                lo = hex4(q + 2, e);
                if (lo < 0)
                    return fail(d, q, "invalid \\u escape in string");
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(d, bs, "lone surrogate in \\u escape");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(d, bs, "lone surrogate in \\u escape");
            }
            o = put_utf8(o, cp);
            break;
        default: *o++ = (char)bs[1]; break; /* '"', '\\', '/' */
        }
    }
    lua_pushlstring(d->L, out, (size_t)(o - out));
    return e;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Skip to the first byte of [p, end) that needs a look: < 0x20, '"', '\\' or
 * >= 0x80, or to `end`. Whole blocks are tested at once and the position of the
 * first special byte comes from its bit in the mask, not from a byte loop. */
static const uchar *skip_plain(const uchar *p, const uchar *end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);

    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too */
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                   _mm_cmplt_epi8(v, space));
        int mask = _mm_movemask_epi8(hit);

        if (mask != 0)
            return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (end - p >= 8) {
        uint64_t v, quote, bslash, mask;

        memcpy(&v, p, 8);
        quote = v ^ (ONES * '"');
        bslash = v ^ (ONES * '\\');
        /* exact for the lowest flagged byte, which is all we use (little-endian) */
        mask = (((v - ONES * 0x20) & ~v) | ((quote - ONES) & ~quote) | ((bslash - ONES) & ~bslash) | v) &
               HIGHS;
        if (mask != 0) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(mask) >> 3);
#else
            return p;
#endif
        }
        p += 8;
    }
    while (p < end && string_class(*p) == SC_PLAIN)
        p++;
    return p;
}

/* p points after the opening quote; pushes the string, returns past the closing quote. */
static const uchar *parse_string(decoder *d, const uchar *p)
{
    const uchar *s = p, *end = d->end;
    int escaped = 0;

    for (;;) {
        int n;

        p = skip_plain(p, end);
        if (p >= end)
            return fail(d, end, "unterminated string");
        switch (string_class(*p)) {
        case SC_PLAIN:
            p++;
            break;
        case SC_QUOTE:
            if (escaped) {
                if (push_unescaped(d, s, p) == NULL)
                    return NULL;
            } else {
                lua_pushlstring(d->L, (const char *)s, (size_t)(p - s));
            }
            return p + 1;
        case SC_BACKSLASH:
            if (end - p < 2)
                return fail(d, end, "unterminated string");
            if (!escape_ok(p[1]))
                return fail(d, p, "invalid escape in string");
            escaped = 1;
            p += 2;
            break;
        case SC_CONTROL:
            return fail(d, p, "unescaped control character in string");
        default: /* non-ASCII text tends to come in runs: stay here for the run */
            do {
                n = utf8_length(p, end);
                if (n == 0)
                    return fail(d, p, "invalid UTF-8 in string");
                p += n;
            } while (p < end && *p >= 0x80);
            break;
        }
    }
}

/* ---- numbers --------------------------------------------------------------- */

/* Small hot helpers of the number parser that -O2 would otherwise call. */
#define LC_INLINE static inline __attribute__((always_inline))

#define IS_DIGIT(c) ((unsigned)((c) - '0') < 10u)

/* Significant digits kept exactly; more are rare and go to strtod. */
#define MAX_DIGITS 19

static const uint64_t pow10_u64[MAX_DIGITS + 1] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
    1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
    1000000000000000000ULL, 10000000000000000000ULL,
};

LC_INLINE int eight_digits_at(const uchar *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return ((v & 0xF0F0F0F0F0F0F0F0ULL) | (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) ==
           0x3333333333333333ULL;
}

/* Value of 8 ASCII digits, combined pairwise in one register (little-endian). */
LC_INLINE uint64_t eight_digits(const uchar *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v -= ONES * '0';
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFULL;
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFULL;
    v = (v * 10000 + (v >> 32)) & 0xFFFFFFFFULL;
    return v;
#else
    {
        uint64_t r = 0;
        int i;

        for (i = 0; i < 8; i++)
            r = r * 10 + (uint64_t)(p[i] - '0');
        return r;
    }
#endif
}

LC_INLINE const uchar *digits_end(const uchar *p, const uchar *end)
{
    while (end - p >= 8 && eight_digits_at(p))
        p += 8;
    while (p < end && IS_DIGIT(*p))
        p++;
    return p;
}

/* Value of n <= MAX_DIGITS digits. */
LC_INLINE uint64_t digits_value(const uchar *p, size_t n)
{
    uint64_t v = 0;

    for (; n >= 8; n -= 8, p += 8)
        v = v * 100000000 + eight_digits(p);
    for (; n > 0; n--, p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

static int nonzero_digit(const uchar *p, const uchar *e)
{
    for (; p < e; p++)
        if (*p != '0')
            return 1;
    return 0;
}

/* The grammar -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? read as w * 10^q,
 * w holding the first MAX_DIGITS significant digits (`dropped` says whether a
 * nonzero digit did not fit). Pushes an integer or a correctly rounded float. */
static const uchar *parse_number(decoder *d, const uchar *p)
{
    const uchar *s = p, *end = d->end, *ds;
    uint64_t w;
    long q = 0;
    int neg = 0, nd, dropped = 0, is_int = 1;
    size_t n;
    double v;

    if (*p == '-') {
        neg = 1;
        if (++p == end)
            return fail(d, p, "unexpected end of input in number");
    }
    ds = p;
    if (*p == '0')
        p++;
    else if (IS_DIGIT(*p))
        p = digits_end(p + 1, end);
    else
        return fail(d, p, "invalid number");
    n = (size_t)(p - ds);
    if (n <= MAX_DIGITS) {
        w = digits_value(ds, n);
        nd = w == 0 ? 0 : (int)n;
    } else {
        w = digits_value(ds, MAX_DIGITS);
        nd = MAX_DIGITS;
        q = (long)(n - MAX_DIGITS);
        dropped = nonzero_digit(ds + MAX_DIGITS, p);
    }
    if (p < end && *p == '.') {
        const uchar *fs = ++p, *fe;
        size_t take;

        is_int = 0;
        if (p == end || !IS_DIGIT(*p))
            return p == end ? fail(d, p, "unexpected end of input in number")
                            : fail(d, p, "invalid number: digit expected after '.'");
        fe = p = digits_end(p + 1, end);
        if (w == 0) { /* leading zeros of 0.000123 are not significant */
            while (fs < fe && *fs == '0')
                fs++;
            q -= fe - fs == 0 ? 0 : (long)(fs - (ds + n + 1));
        }
        take = (size_t)(fe - fs);
        if (take > (size_t)(MAX_DIGITS - nd))
            take = (size_t)(MAX_DIGITS - nd);
        if (take > 0) {
            w = w * pow10_u64[take] + digits_value(fs, take);
            nd += (int)take;
            q -= (long)take;
        }
        dropped |= nonzero_digit(fs + take, fe);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0;
        long e = 0;

        is_int = 0;
        if (++p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == end || !IS_DIGIT(*p))
            return p == end ? fail(d, p, "unexpected end of input in number")
                            : fail(d, p, "invalid number: digit expected in exponent");
        do {
            if (e < 100000) /* beyond that the value is 0 or inf anyway */
                e = e * 10 + (*p - '0');
        } while (++p < end && IS_DIGIT(*p));
        q += eneg ? -e : e;
    }

#if LC_HAS_INTEGERS
    if (is_int && q == 0 && !(neg && w == 0)) {
        if (!neg && w <= (uint64_t)LUA_MAXINTEGER) {
            lua_pushinteger(d->L, (lua_Integer)w);
            return p;
        }
        if (neg && w - 1 <= (uint64_t)LUA_MAXINTEGER) {
            /* -w computed as -(w-1)-1 so that LUA_MININTEGER does not overflow */
            lua_pushinteger(d->L, -(lua_Integer)(w - 1) - 1);
            return p;
        }
    }
#else
    (void)is_int;
#endif
    if (dropped || q < -1000 || q > 1000 || !lc_number_fast(w, (int)q, &v)) {
        size_t len = (size_t)(p - s);
        char *buf = scratch(d, len + 1);
        int ok;

        memcpy(buf, s, len);
        buf[len] = '\0';
        v = lc_number_strtod(buf, &ok);
        if (!ok)
            luaL_error(d->L, "leadconduit.decode: cannot create the C locale (out of memory)");
        lua_pushnumber(d->L, (lua_Number)v);
        return p;
    }
    lua_pushnumber(d->L, (lua_Number)(neg ? -v : v));
    return p;
}

/* ---- the parser -------------------------------------------------------------- */

static const uchar *literal(decoder *d, const uchar *p, const char *word, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (p + i >= d->end)
            return fail(d, d->end, "unexpected end of input");
        if (p[i] != (uchar)word[i])
            return i == 0 ? fail_char(d, p, "") : fail(d, p, "invalid literal");
    }
    return p + len;
}

/* Parse one JSON text; on success the value is the only thing above d->bottom. */
static int parse(decoder *d, const uchar *p)
{
    lua_State *L = d->L;
    const uchar *end = d->end;
    frame *f;

value:
    p = ws(p, end);
    if (p == end)
        return error_at(d, p, "unexpected end of input");
    if (!reserve(d))
        return error_at(d, p, "document too large for the Lua stack");
    switch (*p) {
    case '{':
        if ((p = open_container(d, p, KIND_OBJECT)) == NULL)
            return 0;
        p = ws(p, end);
        if (p < end && *p == '}') {
            p++;
            close_object(d);
            goto after_value;
        }
        goto key;
    case '[':
        if ((p = open_container(d, p, KIND_ARRAY)) == NULL)
            return 0;
        p = ws(p, end);
        if (p < end && *p == ']') {
            p++;
            close_array(d);
            goto after_value;
        }
        goto value;
    case '"':
        p = parse_string(d, p + 1);
        break;
    case 't':
        if ((p = literal(d, p, "true", 4)) != NULL)
            lua_pushboolean(L, 1);
        break;
    case 'f':
        if ((p = literal(d, p, "false", 5)) != NULL)
            lua_pushboolean(L, 0);
        break;
    case 'n':
        if ((p = literal(d, p, "null", 4)) != NULL)
            lua_pushlightuserdata(L, NULL);
        break;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        p = parse_number(d, p);
        break;
    default:
        return error_char(d, p, "");
    }
    if (p == NULL)
        return 0;
    d->top++;

after_value:
    p = ws(p, end);
    if (d->depth == 0) {
        if (p != end)
            return error_at(d, p, "trailing content after the JSON value");
        return 1;
    }
    if (p == end)
        return error_at(d, p, "unexpected end of input");
    f = &d->frames[d->depth - 1];
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
        return error_char(d, p, ", expected ',' or ']'");
    }
    if (*p == ',') {
        if (d->top - f->base >= CHUNK)
            flush(d);
        p = ws(p + 1, end);
        goto key;
    }
    if (*p == '}') {
        p++;
        close_object(d);
        goto after_value;
    }
    return error_char(d, p, ", expected ',' or '}'");

key:
    if (p == end)
        return error_at(d, p, "unexpected end of input");
    if (*p != '"')
        return error_char(d, p, ", expected a string key");
    if (!reserve(d))
        return error_at(d, p, "document too large for the Lua stack");
    if ((p = parse_string(d, p + 1)) == NULL)
        return 0;
    d->top++;
    p = ws(p, end);
    if (p == end)
        return error_at(d, p, "unexpected end of input");
    if (*p != ':')
        return error_char(d, p, ", expected ':'");
    p++;
    goto value;
}

int lc_decode_buffer(lua_State *L, const char *text, size_t len, int max_depth)
{
    frame static_frames[STATIC_FRAMES];
    decoder d;
    int bottom;

    luaL_checkstack(L, 3 + STACK_MARGIN, "leadconduit.decode");
    bottom = lua_gettop(L);
    luaL_getmetatable(L, LC_ARRAY_MT);
    lua_pushnil(L);
    lua_pushnil(L);

    d.L = L;
    d.start = (const uchar *)text;
    d.end = d.start + len;
    d.mt_slot = bottom + 1;
    d.frames_slot = bottom + 2;
    d.scratch_slot = bottom + 3;
    d.bottom = d.top = bottom + 3;
    d.room_top = d.top + STACK_MARGIN;
    d.frames = static_frames;
    d.frames_cap = STATIC_FRAMES;
    d.depth = 0;
    d.max_depth = max_depth < 0 ? 0 : max_depth;
    d.scratch = NULL;
    d.scratch_cap = 0;
    d.err_at = d.start;
    d.err[0] = '\0';

    if (parse(&d, d.start)) {
        lua_replace(L, bottom + 1);
        lua_settop(L, bottom + 1);
        return 1;
    }
    lua_settop(L, bottom);
    push_error(&d);
    return 0;
}

/* opts.max_depth: a non-negative integer, or absent for the default. */
static int option_max_depth(lua_State *L)
{
    int depth = LC_DEFAULT_MAX_DEPTH;

    if (lua_isnoneornil(L, 2))
        return depth;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "max_depth");
    if (!lua_isnil(L, -1)) {
        lua_Number n;

        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_argerror(L, 2, "max_depth must be a non-negative integer");
        n = lua_tonumber(L, -1);
        if (!(n >= 0 && n <= INT_MAX - 1) || n != (lua_Number)(int)n)
            luaL_argerror(L, 2, "max_depth must be a non-negative integer");
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

    luaL_checktype(L, 1, LUA_TSTRING); /* numbers too are a programming error */
    text = lua_tolstring(L, 1, &len);
    max_depth = option_max_depth(L);
    if (lc_decode_buffer(L, text, len, max_depth))
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}
