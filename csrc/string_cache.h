/* string_cache.h — the decoder's caches of short strings: object keys kept from call to call, string
 * values kept for one call, and what an open object needs to know of its keys.
 *
 * Lua interns each short string it is given, hashing all its bytes and looking them up in its string
 * table; the same keys recur in every object of an array and in every answer of the API, and a small
 * answer repeats its values. Pushing a saved copy of a string seen before costs a compare instead.
 * decode.c calls lc_push_key and lc_push_value for every escape-free string; what is here decides
 * whether the string comes from a cache. The hot paths are inline; string_cache.c has the misses.
 *
 * Invariants, each of which a change here must keep (spec/decode_spec.lua and spec/fuzz pin them):
 *
 * 1. C never reads memory that Lua code can free. The key cache keeps its own copy of each key's
 *    bytes; its strings are kept alive by its user value, which the debug library can reach and
 *    empty, so a hit that finds no string there makes it again. A value entry's bytes belong to a
 *    string in one of the call's own stack slots.
 * 2. An entry and the table slot that keeps its string change together, with nothing in between
 *    that can run Lua code (the table's array part is presized: storing never allocates). A
 *    finalizer that decodes in the middle of a decode then leaves both consistent.
 * 3. A key is in at most one slot. Making a key's string may run a finalizer that decodes and
 *    stores the same key, so a store looks again first.
 * 4. An object's keys are distinct when they all came from the key cache, from distinct slots,
 *    with no store into the cache while it was open (by 3, a key has one slot while none happens).
 *    Then its pairs may go into its table last first (decode.c's close_object).
 * 5. A near slot holds its entry's string only while the entry's store count is the one it was
 *    copied with.
 * 6. The next-key links are hints: a key is taken from the slot a link names only once the text
 *    holds that entry's bytes and then a closing quote (a cached key has no escape, no quote, no
 *    control byte: the same bytes and a quote are the same key).
 * 7. No string value outlives the call that decoded it (an answer's values may be tokens); keys do,
 *    at most LC_KEY_SLOTS of at most LC_CACHED_MAX_LEN bytes, each until it is replaced. */
#ifndef LEADCONDUIT_STRING_CACHE_H
#define LEADCONDUIT_STRING_CACHE_H

#include <stdint.h>
#include <string.h>

#include "compat.h"

/* The longest string the caches keep. Keys are nearly always shorter; an entry's copy of its
 * bytes is this long. */
#define LC_CACHED_MAX_LEN 40
/* Entries of the key cache, in sets of LC_WAYS: direct-mapped, two hot keys that share a slot
 * would evict each other on every object. */
#define LC_KEY_SLOTS 256
#define LC_WAYS 4
#define LC_KEY_SETS (LC_KEY_SLOTS / LC_WAYS)
#if LC_KEY_SLOTS > 256
#error "a key's slot is kept in an unsigned char (the next-key links)"
#endif
/* Entries of the value cache, the same sets. */
#define LC_VALUE_SLOTS 32
#define LC_VALUE_SETS (LC_VALUE_SLOTS / LC_WAYS)
/* From this many bytes of text on, a call keeps near copies of the keys (a hit's lua_rawgeti costs
 * about twice a lua_pushvalue; 256 slots to set up, which a small text does not win back) and no
 * value cache (a large text's values repeat less: the misses cost more than the hits save). */
#define LC_LARGE_TEXT 4096

/* A cached string: its first and last words (lc_string_words), its bytes and its length. */
typedef struct {
    uint64_t head, tail;
    const char *bytes;
    size_t len; /* 0: an empty entry */
} lc_cached_string;

/* The key cache: a userdata made once with the decode function, its upvalue. Set k is slots
 * k * LC_WAYS to k * LC_WAYS + LC_WAYS - 1, so that a slot's entry is one index away. */
typedef struct {
    lc_cached_string entries[LC_KEY_SLOTS];
    /* the way of each set that the next miss replaces: round robin */
    unsigned char victim[LC_KEY_SETS];
    /* how many keys have been stored, by any decode; and the count each slot's key was stored as */
    uint64_t stores;
    uint64_t stored_as[LC_KEY_SLOTS];
    /* the next-key links: the slot of the key that came after each slot's key the last time, and
     * at LC_KEY_SLOTS the first key of the last object */
    unsigned char next[LC_KEY_SLOTS + 1];
    /* each entry's own copy of its bytes (invariant 1) */
    char bytes[LC_KEY_SLOTS][LC_CACHED_MAX_LEN];
} lc_key_cache;

/* What an open object knows of its keys. */
typedef struct {
    int distinct;                      /* invariant 4 holds so far */
    uint64_t stores;                   /* the cache's `stores` when the object opened */
    uint64_t slots[LC_KEY_SLOTS / 64]; /* the slots its keys came from */
    int last_slot;                     /* its last key's slot, LC_KEY_SLOTS before any */
} lc_object_keys;

/* One call's use of the caches. */
typedef struct {
    lua_State *L;
    lc_key_cache *keys; /* NULL: no key cache */
    int table;          /* stack index of the table that keeps the keys' strings */
    /* near keys (large texts): the first of LC_KEY_SLOTS stack slots, 0 for none, and the store
     * count of the key each holds, 0 for none (invariant 5) */
    int near;
    uint64_t near_stored_as[LC_KEY_SLOTS];
    /* the value cache (small texts): the first of LC_VALUE_SLOTS stack slots, 0 for none, and
     * their entries, in sets as in the key cache */
    int values;
    lc_cached_string value_entries[LC_VALUE_SLOTS];
    unsigned char value_victim[LC_VALUE_SETS];
} lc_strings;

/* The stack slots lc_strings_open may push. */
#define LC_STRINGS_SLOTS (2 + LC_KEY_SLOTS)

/* Push this call's slots: the key cache at `key_cache` (a stack or upvalue index; 0 for none, and
 * then no value cache either) and its table, then the near or the value slots, all nil. */
void lc_strings_open(lc_strings *sc, lua_State *L, int key_cache, size_t text_len);

/* Push a new, empty key cache. */
void lc_push_key_cache(lua_State *L);

/* The misses (string_cache.c): push the string and store it; the key's returns its slot. */
int lc_key_store(lc_strings *sc, const unsigned char *s, size_t len, uint64_t head, uint64_t tail);
void lc_value_store(lc_strings *sc, const unsigned char *s, size_t len, unsigned set, uint64_t head,
                    uint64_t tail);
/* The table lost a key's string (invariant 1): replace what its read pushed. */
void lc_key_restore(lc_strings *sc, int slot);

/* The first and last 8 bytes of [s, s+len), 0 < len <= LC_CACHED_MAX_LEN, or its first and last
 * 4, or its first, middle and last byte: all of a string of up to 16 bytes, so that most compare
 * in two word compares and no call of memcmp. */
LC_ALWAYS_INLINE void lc_string_words(const unsigned char *s, size_t len, uint64_t *head, uint64_t *tail)
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

/* Whether entry k holds [s, s+len), whose words are head and tail. Past 16 bytes the middle is
 * compared 8 bytes at a time from byte 8 until a word reaches the last 8: less than a memcmp. */
LC_ALWAYS_INLINE int lc_entry_matches(const lc_cached_string *k, const unsigned char *s, size_t len,
                                      uint64_t head, uint64_t tail)
{
    size_t at;

    if (k->len != len || k->head != head || k->tail != tail)
        return 0;
    for (at = 8; at + 8 < len; at += 8) {
        uint64_t x, y;

        memcpy(&x, k->bytes + at, 8);
        memcpy(&y, s + at, 8);
        if (x != y)
            return 0;
    }
    return 1;
}

/* The slot of [s, s+len) among `entries` in `sets` sets, or -1; *set is the set it belongs in. */
LC_ALWAYS_INLINE int lc_cache_find(const lc_cached_string *entries, unsigned sets, const unsigned char *s,
                                   size_t len, uint64_t head, uint64_t tail, unsigned *set)
{
    uint64_t mix = (head ^ (tail * UINT64_C(0x9E3779B97F4A7C15)) ^ len) * UINT64_C(0xFF51AFD7ED558CCD);
    int first, w;

    *set = (unsigned)((mix >> 40) % sets);
    first = (int)*set * LC_WAYS;
    for (w = 0; w < LC_WAYS; w++)
        if (lc_entry_matches(&entries[first + w], s, len, head, tail))
            return first + w;
    return -1;
}

/* ---- an object's keys ------------------------------------------------------------------------ */

LC_ALWAYS_INLINE void lc_object_keys_begin(const lc_strings *sc, lc_object_keys *o)
{
    o->distinct = sc->keys != NULL;
    if (o->distinct) {
        o->stores = sc->keys->stores;
        memset(o->slots, 0, sizeof o->slots);
        o->last_slot = LC_KEY_SLOTS;
    }
}

/* The object's next key did not come from the key cache. */
LC_ALWAYS_INLINE void lc_object_keys_other(lc_object_keys *o)
{
    o->distinct = 0;
}

/* Whether invariant 4 holds for the object: its pairs may go in in any order. */
LC_ALWAYS_INLINE int lc_object_keys_distinct(const lc_strings *sc, const lc_object_keys *o)
{
    return o->distinct && sc->keys->stores == o->stores;
}

/* The object's next key is the key cache's slot `slot`: noted for invariant 4 and as the link. */
LC_ALWAYS_INLINE void lc_object_keys_from(lc_strings *sc, lc_object_keys *o, int slot)
{
    uint64_t bit = UINT64_C(1) << (slot & 63);

    if (o->slots[slot >> 6] & bit)
        o->distinct = 0;
    o->slots[slot >> 6] |= bit;
    sc->keys->next[o->last_slot] = (unsigned char)slot;
    o->last_slot = slot;
}

/* ---- pushing ----------------------------------------------------------------------------------
 * Each push uses at most two stack slots above the top, the pushed string's included. */

/* With near slots, copy the key on top, the string of slot `slot`, into its near slot. */
LC_ALWAYS_INLINE void lc_keep_near(lc_strings *sc, int slot)
{
    if (sc->near != 0) {
        lc_copy_top(sc->L, sc->near + slot);
        sc->near_stored_as[slot] = sc->keys->stored_as[slot];
    }
}

/* Push the key of the cache's slot `slot`, the object's next key. */
LC_ALWAYS_INLINE void lc_push_cached_key(lc_strings *sc, lc_object_keys *o, int slot)
{
    lc_object_keys_from(sc, o, slot);
    if (sc->near != 0 && sc->near_stored_as[slot] == sc->keys->stored_as[slot]) {
        lua_pushvalue(sc->L, sc->near + slot);
        return;
    }
    if (lc_rawgeti(sc->L, sc->table, slot + 1) != LUA_TSTRING)
        lc_key_restore(sc, slot);
    lc_keep_near(sc, slot);
}

/* Push the escape-free key [s, s+len), the object's next one: from the key cache when it is there. */
LC_ALWAYS_INLINE void lc_push_key(lc_strings *sc, lc_object_keys *o, const unsigned char *s, size_t len)
{
    uint64_t head, tail;
    unsigned set;
    int slot;

    if (sc->keys == NULL || len == 0 || len > LC_CACHED_MAX_LEN) {
        lc_object_keys_other(o);
        lua_pushlstring(sc->L, (const char *)s, len);
        return;
    }
    lc_string_words(s, len, &head, &tail);
    slot = lc_cache_find(sc->keys->entries, LC_KEY_SETS, s, len, head, tail, &set);
    if (slot >= 0) {
        lc_push_cached_key(sc, o, slot);
        return;
    }
    slot = lc_key_store(sc, s, len, head, tail); /* a store: o's keys are not known distinct now */
    sc->keys->next[o->last_slot] = (unsigned char)slot;
    o->last_slot = slot;
    lc_keep_near(sc, slot);
}

/* s is after the opening quote of the object's next key (its text ends at `end`). When the key is
 * the one that came after the object's last key the last time, push it and return past its closing
 * quote; else return NULL. */
LC_ALWAYS_INLINE const unsigned char *lc_push_next_key(lc_strings *sc, lc_object_keys *o,
                                                       const unsigned char *s, const unsigned char *end)
{
    int slot;
    size_t len; /* 0: an empty entry */
    uint64_t head, tail;

    if (sc->keys == NULL)
        return NULL;
    slot = sc->keys->next[o->last_slot];
    len = sc->keys->entries[slot].len;
    if (len == 0 || (size_t)(end - s) <= len || s[len] != '"')
        return NULL;
    lc_string_words(s, len, &head, &tail);
    if (!lc_entry_matches(&sc->keys->entries[slot], s, len, head, tail))
        return NULL;
    lc_push_cached_key(sc, o, slot);
    return s + len + 1;
}

/* Push the escape-free string value [s, s+len): from this call's value cache when it is there. */
LC_ALWAYS_INLINE void lc_push_value(lc_strings *sc, const unsigned char *s, size_t len)
{
    uint64_t head, tail;
    unsigned set;
    int slot;

    if (sc->values == 0 || len == 0 || len > LC_CACHED_MAX_LEN) {
        lua_pushlstring(sc->L, (const char *)s, len);
        return;
    }
    lc_string_words(s, len, &head, &tail);
    slot = lc_cache_find(sc->value_entries, LC_VALUE_SETS, s, len, head, tail, &set);
    if (slot >= 0)
        lua_pushvalue(sc->L, sc->values + slot);
    else
        lc_value_store(sc, s, len, set, head, tail);
}

#endif
