/* decode.c — strict RFC 8259 JSON text to Lua values, built in place: the grammar, the Lua
 * stack, strings and their escapes.
 *
 * An iterative parser (no C recursion, so nesting depth cannot overflow the C stack): each open
 * container collects its items on the Lua stack above a placeholder slot and becomes a table
 * presized with the exact counts when it closes. The byte scanners are in scan.h, the number
 * literals in number.c, UTF-8 validity in utf8.h. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "leadconduit.h"
#include "number.h"
#include "scan.h"
#include "utf8.h"

typedef unsigned char uchar;

enum { KIND_ARRAY, KIND_OBJECT };

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

/* The key cache: the same keys recur in every object of an array ("id", "name", ...) and in every
 * answer of the API, and Lua interns each short string it is given, hashing all its bytes and
 * looking them up in its string table (measured: about a quarter of the instructions of decoding
 * the account payload). Pushing a saved copy of a key seen before costs a compare instead.
 *
 * The cache is made once with the decode function (its upvalue) and kept for the life of the
 * module, so a small text gains from the keys of the texts before it and no call pays to set a
 * cache up. It holds object keys only, never values, so that an answer's values (its tokens) do
 * not outlive it; at most KEY_CACHE strings of at most KEY_CACHE_MAX_LEN bytes, each until it is
 * evicted. It is a userdata with a copy of each string's bytes and its length, so that a lookup is
 * a compare in C, and whose user value, a table, keeps the strings alive in slots 1..KEY_CACHE:
 * only a hit touches the table. Lua's collector never moves a string; an entry and its slot change together,
 * with nothing that could run Lua code in between (the slots are the table's presized array part, so storing
 * into one never allocates), and so a finalizer that decodes in the middle of a decode leaves both
 * consistent. */
#define KEY_CACHE 256
/* Lua 5.2+ interns strings up to 40 bytes (LUAI_MAXSHORTLEN): keys are nearly always shorter.
 * push_cached_key depends on it: a near slot is known to hold its entry's string by comparing the
 * strings' byte pointers, which is sound only while equal cached strings are one object. */
#define KEY_CACHE_MAX_LEN 40
/* Four entries per set: direct-mapped, two hot keys that share a slot evict each other on every
 * object (twitter.json's 94 distinct keys missed 3,340 times per decode in 256 slots; 4-way, 94). */
#define KEY_WAYS 4
#define KEY_SETS (KEY_CACHE / KEY_WAYS)
#if KEY_CACHE > 256
#error "a key's slot is kept in an unsigned char (see the next key)"
#endif

typedef struct {
    uint64_t head, tail; /* as key_words reads them */
    const char *bytes;
    size_t len; /* 0: empty entry */
} cached_key;

/* The userdata of the cache kept across calls. Set k is slots k * KEY_WAYS to k * KEY_WAYS +
 * KEY_WAYS - 1 of `keys`: a slot's entry is one index away, with no multiply of a set's size.
 * Each entry's bytes are a copy in `text`, never a pointer into the string: the strings are kept
 * alive by the userdata's user value, which Lua code can reach with the debug library and empty,
 * and what Lua code can free, C must not read. */
typedef struct {
    cached_key keys[KEY_CACHE];
    unsigned char victim[KEY_SETS]; /* the way of each set the next miss replaces: round robin */
    uint64_t stores;                /* how many keys have been stored into it, by any decode */
    uint64_t stored_as[KEY_CACHE];  /* the value of `stores` that each slot's key was stored as */
    char text[KEY_CACHE][KEY_CACHE_MAX_LEN];
    /* the slot of the key that came after each slot's key the last time it was seen, and at
     * KEY_CACHE, the first key of the last object (see "the next key") */
    unsigned char follower[KEY_CACHE + 1];
} key_entries;

/* One open container. Its slot `base` holds a placeholder (nil) until the
 * container is flushed early, then its table; pending items sit above it. */
typedef struct {
    int base;
    int count; /* array items already stored in the table */
    int kind;
    int has_table;
    /* An object's keys (see "distinct keys"): */
    int keys_distinct;              /* 1 while all came from the key cache, from distinct slots */
    uint64_t stores;                /* the cache's count of stores when the object opened */
    uint64_t slots[KEY_CACHE / 64]; /* the cache slots they came from */
    int last_slot;                  /* the slot of its last key from the cache, KEY_CACHE before any */
} frame;

/* A hit reads the string from the table (lua_rawgeti), which costs about twice a copy of a
 * stack slot (lua_pushvalue). So a text of NEAR_KEYS_MIN_TEXT bytes or more also keeps, for this
 * call, a copy of each key it meets in a stack slot of its own; the slots cost a few hundred
 * instructions to set up, which a small text would not win back. */
#define NEAR_KEYS_MIN_TEXT 4096

/* The value cache: a small text repeats its values too (the account payload has 51 string values,
 * 10 of them distinct: its ids and dates). Kept for one call only, in stack slots, so that no value
 * of an answer (a token) outlives it. Texts of NEAR_KEYS_MIN_TEXT bytes or more do without: on
 * twitter.json and citm_catalog.json, whose values repeat less, the misses cost 2% more than the
 * hits saved. */
#define VALUE_CACHE 32
#define VALUE_SETS (VALUE_CACHE / KEY_WAYS)

typedef struct {
    lua_State *L;
    const uchar *start, *end;
    int top;            /* mirror of lua_gettop(L) */
    int room_top;       /* lua_checkstack guaranteed slots up to this index */
    int bottom;         /* stack index below the first decoded value */
    int mt_slot;        /* array_mt */
    int frames_slot;    /* userdata holding frames once depth > STATIC_FRAMES */
    int scratch_slot;   /* userdata holding the scratch buffer */
    int cache_slot;     /* the key cache's userdata, kept on the stack for the call */
    int keys_slot;      /* its user value: the table whose slots keep its strings alive */
    key_entries *cache; /* its entries; NULL: no cache */
    int near_slot;      /* the first of KEY_CACHE stack slots with this call's copies; 0: none */
    frame *frames;
    frame *inner; /* the innermost open container, frames[depth - 1]; NULL at depth 0 */
    int frames_cap;
    int depth, max_depth;
    char *scratch;
    size_t scratch_cap;
    const uchar *err_at;
    char err[96];
    uint64_t near[KEY_CACHE]; /* the stored_as of the string in each near slot, or 0 */
    int values_slot;          /* the first of VALUE_CACHE stack slots with this call's values; 0: none */
    cached_key value_keys[VALUE_CACHE]; /* their entries, in sets as in the key cache */
    unsigned char value_victim[VALUE_SETS];
} decoder;

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
    if (at == d->end) /* the NUL after the text: the parser tests for the end only here */
        snprintf(d->err, sizeof d->err, "unexpected end of input");
    else if (*at >= 0x21 && *at < 0x7f)
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
    frame *f = d->inner;
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
    nf = lc_newuserdata(d->L, (size_t)cap * sizeof *nf); /* uses the margin slot */
    memcpy(nf, d->frames, (size_t)d->depth * sizeof *nf);
    lua_replace(d->L, d->frames_slot);
    d->frames = nf;
    d->frames_cap = cap;
    return 1;
}

/* ---- distinct keys ----------------------------------------------------------------------
 *
 * lua_rawset takes its pair from the top of the stack: an object's pairs can go into its table
 * last first, straight off the stack, with no copy of each pair to the top (two lua_pushvalue a
 * pair, 3% of a decode). But of a key given twice the first value would then win, where document
 * order says the last. An object whose keys all came from the key cache, while nothing was stored
 * into it, has a key twice exactly when two of them came from the same slot: the cache holds a key
 * in one slot at most (store_key looks again before it stores, should a finalizer's decode have
 * stored the key in the meantime), so while it does not change a key always has the same slot,
 * however it is found. So each object keeps the set of slots its keys came from;
 * any other object (a key that missed the cache or bypassed it, a key twice, a store into the
 * cache by this or any other decode while it was open) goes in first to last, as before. */

/* A new object: its keys are distinct so far, if there is a cache to tell. */
LC_ALWAYS_INLINE void keys_begin(decoder *d, frame *f)
{
    f->keys_distinct = d->cache != NULL;
    if (f->keys_distinct) {
        f->stores = d->cache->stores;
        memset(f->slots, 0, sizeof f->slots);
        f->last_slot = KEY_CACHE;
    }
}

/* The object of frame f has its next key from the cache's slot `slot`. */
LC_ALWAYS_INLINE void keys_note_slot(frame *f, int slot)
{
    uint64_t bit = UINT64_C(1) << (slot & 63);

    if (f->slots[slot >> 6] & bit)
        f->keys_distinct = 0;
    f->slots[slot >> 6] |= bit;
}

/* The innermost object's next key did not come from the cache. */
LC_ALWAYS_INLINE void keys_note_other(decoder *d)
{
    d->inner->keys_distinct = 0;
}

/* Whether the keys of the object of frame f are known to be distinct. */
LC_ALWAYS_INLINE int keys_known_distinct(const decoder *d, const frame *f)
{
    return f->keys_distinct && d->cache->stores == f->stores;
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
    f = d->inner = &d->frames[d->depth++];
    f->base = d->top;
    f->count = 0;
    f->kind = kind;
    f->has_table = 0;
    if (kind == KIND_OBJECT)
        keys_begin(d, f);
    return p + 1;
}

/* Turn the innermost array's items into a table at its base slot. */
LC_ALWAYS_INLINE void close_array(decoder *d)
{
    lua_State *L = d->L;
    frame *f = d->inner;
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
    close_frame(d);
}

/* Push an empty array, `[]` with or without whitespace inside, within the nesting limit: its
 * table is made at once, with no frame to open and close (citm_catalog.json has 8,695 of them
 * among its 10,451 arrays, twitter.json 746 of 1,050). Like a string or a number it takes one
 * slot, so none of open_container's flush and growth of the frames is due. */
LC_ALWAYS_INLINE void push_empty_array(decoder *d)
{
    lua_createtable(d->L, 0, 0);
    lua_pushvalue(d->L, d->mt_slot); /* uses the margin slot */
    lua_setmetatable(d->L, -2);
}

/* Turn the innermost object's key/value pairs into a table at its base slot.
 * Pairs go in document order, so a duplicated key keeps its last value. */
static void close_object(decoder *d)
{
    lua_State *L = d->L;
    frame *f = d->inner;
    int base = f->base, n = d->top - base, i;

    if (!f->has_table) {
        lua_createtable(L, 0, n / 2);
        lua_replace(L, base);
        if (keys_known_distinct(d, f)) {
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

/* ---- strings --------------------------------------------------------------- */

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

/* The first and last 8 bytes of the key [s, s+len), 0 < len <= KEY_CACHE_MAX_LEN, or its first
 * and last 4, or its first, middle and last byte: together they are all of a key of up to 16
 * bytes, so that most keys are compared in two word compares and no call of memcmp. */
LC_ALWAYS_INLINE void key_words(const uchar *s, size_t len, uint64_t *head, uint64_t *tail)
{
    if (len >= 8) {
        memcpy(head, s, 8);
        memcpy(tail, s + len - 8, 8);
    } else if (len >= 4) {
        uint32_t h, t;

        memcpy(&h, s, 4);
        memcpy(&t, s + len - 4, 4);
        *head = h;
        *tail = t;
    } else {
        *head = (uint64_t)s[0] | (uint64_t)s[len / 2] << 8 | (uint64_t)s[len - 1] << 16;
        *tail = 0;
    }
}

/* Whether the strings a and b of len bytes, 16 < len <= KEY_CACHE_MAX_LEN, whose first and last 8
 * bytes are the same, have the same bytes in between: compared 8 at a time from byte 8 until a
 * word reaches the last 8 bytes, which costs less than a call of memcmp (2% of the account
 * payload's decode, whose ids and dates are 20 and 24 bytes long: one word each). */
LC_ALWAYS_INLINE int middle_matches(const char *a, const uchar *b, size_t len)
{
    size_t at;

    for (at = 8; at < len - 8; at += 8) {
        uint64_t x, y;

        memcpy(&x, a + at, 8);
        memcpy(&y, b + at, 8);
        if (x != y)
            return 0;
    }
    return 1;
}

/* Whether entry k holds the key [s, s+len) whose words are head and tail. */
LC_ALWAYS_INLINE int key_matches(const cached_key *k, const uchar *s, size_t len, uint64_t head,
                                 uint64_t tail)
{
    return k->len == len && k->head == head && k->tail == tail &&
           (len <= 16 || middle_matches(k->bytes, s, len));
}

/* The slot of the string [s, s+len), 0 < len <= KEY_CACHE_MAX_LEN, whose words are head and
 * tail, among the entries `keys` of `sets` sets, or -1 if it is not there; *set is its set. */
LC_ALWAYS_INLINE int cache_find(const cached_key *keys, unsigned sets, const uchar *s, size_t len,
                                uint64_t head, uint64_t tail, unsigned *set)
{
    uint64_t mix = (head ^ (tail * UINT64_C(0x9E3779B97F4A7C15)) ^ len) * UINT64_C(0xFF51AFD7ED558CCD);
    int first, w;

    *set = (unsigned)((mix >> 40) % sets);
    first = (int)*set * KEY_WAYS;
    for (w = 0; w < KEY_WAYS; w++)
        if (key_matches(&keys[first + w], s, len, head, tail))
            return first + w;
    return -1;
}

/* Make the next victim of set `set` (round robin) hold the string of len bytes whose words are
 * head and tail; its bytes are for the caller to set. Returns its slot. */
static int cache_store(cached_key *keys, unsigned char *victims, unsigned set, size_t len, uint64_t head,
                       uint64_t tail)
{
    int slot = (int)set * KEY_WAYS + victims[set]++ % KEY_WAYS;
    cached_key *k = &keys[slot];

    k->len = len;
    k->head = head;
    k->tail = tail;
    return slot;
}

/* ---- the next key ------------------------------------------------------------------------
 *
 * Objects of one shape give their keys in the same order: every status of twitter.json, every
 * answer of the API. So the cache keeps, for each slot, the slot of the key that came after that
 * slot's key the last time, and where a key starts, the text is first compared with that one
 * entry in place: its bytes, then a closing quote. A match needs no scan for the key's end, no
 * hash and no search of a set (measured: about 4% of the instructions of decoding the account
 * payload, 3% of twitter.json's, 2% of citm_catalog.json's; 2.8, 2.2 and 1.2 points of those come
 * from comparing before the scan rather than after it). The links are hints: a key is taken from
 * a slot only when the text holds the entry's bytes. Those are a whole key: a cached key has no
 * escape, no quote, no control character and only valid UTF-8 (push_plain), so the same bytes
 * and then a quote are the same key. */

/* The object of frame f has its next key from slot `slot`: the key after its last one. */
LC_ALWAYS_INLINE void keys_follow(key_entries *cache, frame *f, int slot)
{
    cache->follower[f->last_slot] = (unsigned char)slot;
    f->last_slot = slot;
}

/* Push the key [s, s+len), whose words are head and tail, which the cache did not have, and store
 * it there; returns its slot. */
static int store_key(decoder *d, const uchar *s, size_t len, uint64_t head, uint64_t tail)
{
    lua_State *L = d->L;
    unsigned set;
    int slot;

    lua_pushlstring(L, (const char *)s, len); /* may run the collector, so any finalizer */
    /* which may have decoded and stored the same key: it is not stored twice (see "distinct keys") */
    slot = cache_find(d->cache->keys, KEY_SETS, s, len, head, tail, &set);
    if (slot < 0) {
        /* the entry and its table slot change together, with no Lua code in between */
        slot = cache_store(d->cache->keys, d->cache->victim, set, len, head, tail);
        memcpy(d->cache->text[slot], s, len);
        d->cache->keys[slot].bytes = d->cache->text[slot];
        lua_pushvalue(L, -1); /* uses the margin slot */
        lua_rawseti(L, d->keys_slot, slot + 1);
        d->cache->stored_as[slot] = ++d->cache->stores;
    }
    return slot;
}

/* The cache's table lost the string of slot `slot`, whose read left something else on top: only
 * Lua code that reached the table through the debug library can take it. The string is made
 * again from the entry's copy of its bytes, and put back unless the entry changed meanwhile. */
static void restore_key(decoder *d, int slot)
{
    lua_State *L = d->L;
    uint64_t stored_as = d->cache->stored_as[slot];
    char bytes[KEY_CACHE_MAX_LEN];
    size_t len = d->cache->keys[slot].len;

    memcpy(bytes, d->cache->text[slot], len); /* a finalizer may store over it while the string is made */
    lua_pop(L, 1);
    lua_pushlstring(L, bytes, len);
    if (d->cache->stored_as[slot] == stored_as) {
        lua_pushvalue(L, -1); /* uses the margin slot */
        lua_rawseti(L, d->keys_slot, slot + 1);
    }
}

/* With near slots, keep a copy of the key on top of the stack, the string of slot `slot`. */
LC_ALWAYS_INLINE void keep_near(decoder *d, int slot)
{
    if (d->near_slot != 0) {
        lc_copy_top(d->L, d->near_slot + slot); /* uses the margin slot on 5.1 */
        d->near[slot] = d->cache->stored_as[slot];
    }
}

/* Push the key of the cache's slot `slot`, the next key of the object of frame f. */
LC_ALWAYS_INLINE void push_cached_key(decoder *d, frame *f, int slot)
{
    keys_note_slot(f, slot);
    keys_follow(d->cache, f, slot);
    /* A near slot holds the entry's string only if it was copied since the entry's store: a
     * finalizer that decoded in between may have put another key in the entry. */
    if (d->near_slot != 0 && d->near[slot] == d->cache->stored_as[slot]) {
        lua_pushvalue(d->L, d->near_slot + slot);
        return;
    }
    if (lc_rawgeti(d->L, d->keys_slot, slot + 1) != LUA_TSTRING)
        restore_key(d, slot);
    keep_near(d, slot);
}

/* Push the escape-free key [s, s+len), 0 < len <= KEY_CACHE_MAX_LEN, which is not the next key
 * (push_next_key), from the key cache when it is there. */
LC_ALWAYS_INLINE void push_key(decoder *d, const uchar *s, size_t len)
{
    frame *f = d->inner;
    uint64_t head, tail;
    unsigned set;
    int slot;

    key_words(s, len, &head, &tail);
    slot = cache_find(d->cache->keys, KEY_SETS, s, len, head, tail, &set);
    if (slot >= 0) {
        push_cached_key(d, f, slot);
        return;
    }
    slot = store_key(d, s, len, head, tail);
    keys_follow(d->cache, f, slot);
    keep_near(d, slot);
}

/* Push the escape-free string value [s, s+len), 0 < len <= KEY_CACHE_MAX_LEN, from this call's
 * value cache when it is there. */
LC_ALWAYS_INLINE void push_value(decoder *d, const uchar *s, size_t len)
{
    lua_State *L = d->L;
    uint64_t head, tail;
    unsigned set;
    int slot;

    key_words(s, len, &head, &tail);
    slot = cache_find(d->value_keys, VALUE_SETS, s, len, head, tail, &set);
    if (slot >= 0) {
        lua_pushvalue(L, d->values_slot + slot);
        return;
    }
    lua_pushlstring(L, (const char *)s, len);
    slot = cache_store(d->value_keys, d->value_victim, set, len, head, tail);
    d->value_keys[slot].bytes = lua_tostring(L, -1); /* kept alive by its slot for the call */
    lc_copy_top(L, d->values_slot + slot);           /* uses the margin slot on 5.1 */
}

/* Push the string [s, s+len) that has no escape: an object's key when is_key. The caches keep
 * strings of 1 to KEY_CACHE_MAX_LEN bytes. */
LC_ALWAYS_INLINE void push_plain(decoder *d, const uchar *s, size_t len, int is_key)
{
    if (len == 0 || len > KEY_CACHE_MAX_LEN) {
        if (is_key)
            keys_note_other(d);
        lua_pushlstring(d->L, (const char *)s, len);
    } else if (is_key && d->cache != NULL) {
        push_key(d, s, len);
    } else if (!is_key && d->values_slot != 0) {
        push_value(d, s, len);
    } else {
        lua_pushlstring(d->L, (const char *)s, len);
    }
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
                    keys_note_other(d);
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
 * inline in the parser, which saves a call per string (3% of the account payload's decode);
 * parse_string takes the rest from the first byte that needs a look. */
LC_ALWAYS_INLINE const uchar *string(decoder *d, const uchar *s, int is_key)
{
    const uchar *p = lc_skip_plain(s, d->end);

    if (*p != '"') /* the NUL after the text, too */
        return parse_string(d, s, p, is_key);
    push_plain(d, s, (size_t)(p - s), is_key);
    return p + 1;
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
        return fail(d, n.error_at, n.error);
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

/* The same, with small integers pushed inline: no call, no lc_number to fill (citm_catalog.json's
 * ids, 2.5% of its decode). */
LC_ALWAYS_INLINE const uchar *push_number(decoder *d, const uchar *p)
{
    int32_t small;
    const uchar *after = lc_small_integer(p, d->end, &small);

    if (after == NULL)
        return push_any_number(d, p);
    lua_pushinteger(d->L, (lua_Integer)small);
    return after;
}

/* s is after the opening quote of the innermost object's next key. When that key is the one that
 * came after the object's last key the last time (see "the next key"), pushes it and returns past
 * its closing quote; else returns NULL. */
LC_ALWAYS_INLINE const uchar *push_next_key(decoder *d, const uchar *s)
{
    frame *f = d->inner;
    int slot = d->cache->follower[f->last_slot];
    const cached_key *k = &d->cache->keys[slot];
    size_t len = k->len; /* 0: an empty entry */
    uint64_t head, tail;

    if (len == 0 || (size_t)(d->end - s) <= len || s[len] != '"')
        return NULL;
    key_words(s, len, &head, &tail);
    if (!key_matches(k, s, len, head, tail))
        return NULL;
    push_cached_key(d, f, slot);
    return s + len + 1;
}

/* s is after a key's opening quote: pushes the key, returns past its closing quote. */
LC_ALWAYS_INLINE const uchar *key(decoder *d, const uchar *s)
{
    const uchar *after = d->cache != NULL ? push_next_key(d, s) : NULL;

    return after != NULL ? after : string(d, s, 1);
}

/* ---- the parser -------------------------------------------------------------- */

/* Whether the literal `word` of len bytes is at p. A memcmp of a constant length, which the
 * compiler makes a word compare or two, where a loop over the bytes was 1.7% of decoding
 * twitter.json (4,737 literals). */
LC_ALWAYS_INLINE int literal_at(const uchar *p, const uchar *end, const char *word, size_t len)
{
    return (size_t)(end - p) >= len && memcmp(p, word, len) == 0;
}

/* The error of a literal at p that is not `word`: at its first byte that is wrong. */
static int literal_error(decoder *d, const uchar *p, const char *word)
{
    size_t i;

    for (i = 0; word[i] != '\0'; i++) {
        if (p + i >= d->end)
            return error_at(d, d->end, "unexpected end of input");
        if (p[i] != (uchar)word[i])
            return i == 0 ? error_char(d, p, "") : error_at(d, p + i, "invalid literal");
    }
    return error_at(d, p, "invalid literal"); /* not reached: literal_at said it is not word */
}

/* Parse one JSON text; on success the value is the only thing above d->bottom.
 *
 * The end of the text needs no test of its own between tokens: the NUL byte after the text
 * (leadconduit.h) is no token's first byte, so the test of the byte at p fails at the end too,
 * and fail_char tells the end from a wrong byte (2% of the account payload's decode). */
static int parse(decoder *d, const uchar *p)
{
    lua_State *L = d->L;
    const uchar *end = d->end;
    frame *f;

value:
    p = lc_skip_ws(p, end);
    if (!reserve(d))
        return p == end ? error_char(d, p, "") : error_at(d, p, "document too large for the Lua stack");
    switch (*p) {
    case '{':
        if ((p = open_container(d, p, KIND_OBJECT)) == NULL)
            return 0;
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
            return 0;
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
    default: return error_char(d, p, "");
    }
    if (p == NULL)
        return 0;
    d->top++;

after_value:
    p = lc_skip_ws(p, end);
    if (d->inner == NULL) {
        if (p != end)
            return error_at(d, p, "trailing content after the JSON value");
        return 1;
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
        return error_char(d, p, ", expected ',' or ']'");
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
    return error_char(d, p, ", expected ',' or '}'");

key:
    if (*p != '"')
        return error_char(d, p, ", expected a string key");
    if (!reserve(d))
        return error_at(d, p, "document too large for the Lua stack");
    if ((p = key(d, p + 1)) == NULL)
        return 0;
    d->top++;
    p = lc_skip_ws(p, end);
    if (*p != ':')
        return error_char(d, p, ", expected ':'");
    p++;
    goto value;
}

int lc_decode_buffer(lua_State *L, const char *text, size_t len, int max_depth, int key_cache)
{
    frame static_frames[STATIC_FRAMES];
    decoder d;
    int bottom;

    luaL_checkstack(L, 5 + KEY_CACHE + STACK_MARGIN, "leadconduit.decode");
    bottom = lua_gettop(L);
    luaL_getmetatable(L, LC_ARRAY_MT);
    lua_pushnil(L); /* frames */
    lua_pushnil(L); /* scratch */
    lua_pushnil(L); /* the key cache */
    lua_pushnil(L); /* its table */
    d.cache = NULL;
    d.near_slot = 0;
    /* Only the debug library could put anything else in the decode function's upvalue or the
     * cache's user value; the size check keeps the entries inside whatever it put. The cache stays
     * on the stack, alive, whatever Lua code does to the upvalue during the call. */
    if (key_cache != 0 && lua_type(L, key_cache) == LUA_TUSERDATA &&
        lc_rawlen(L, key_cache) == sizeof(key_entries)) {
        lua_pushvalue(L, key_cache);
        lua_replace(L, bottom + 4);
        lc_getuservalue(L, bottom + 4);
        lua_replace(L, bottom + 5);
        if (lua_type(L, bottom + 5) == LUA_TTABLE)
            d.cache = lua_touserdata(L, bottom + 4);
        if (d.cache != NULL && len >= NEAR_KEYS_MIN_TEXT) {
            d.near_slot = bottom + 6;
            lua_settop(L, bottom + 5 + KEY_CACHE); /* the near slots: nil */
            memset(d.near, 0, sizeof d.near);
        }
    }
    d.values_slot = 0;
    if (key_cache != 0 && len < NEAR_KEYS_MIN_TEXT) {
        d.values_slot = lua_gettop(L) + 1;
        lua_settop(L, d.values_slot + VALUE_CACHE - 1);
        memset(d.value_keys, 0, sizeof d.value_keys);
        memset(d.value_victim, 0, sizeof d.value_victim);
    }

    d.L = L;
    d.start = (const uchar *)text;
    d.end = d.start + len;
    d.mt_slot = bottom + 1;
    d.frames_slot = bottom + 2;
    d.scratch_slot = bottom + 3;
    d.cache_slot = bottom + 4;
    d.keys_slot = bottom + 5;
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

    if (parse(&d, d.start)) {
        lua_replace(L, bottom + 1);
        lua_settop(L, bottom + 1);
        return 1;
    }
    lua_settop(L, bottom);
    push_error(&d);
    return 0;
}

void lc_push_key_cache(lua_State *L)
{
    key_entries *cache;

    cache = lc_newuserdata_with_value(L, sizeof *cache);
    memset(cache, 0, sizeof *cache);
    lua_createtable(L, KEY_CACHE, 0);
    lc_setuservalue(L, -2);
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
    if (lc_decode_buffer(L, text, len, max_depth, lua_upvalueindex(1)))
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}
