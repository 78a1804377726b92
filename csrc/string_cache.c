/* string_cache.c — the cold half of the string caches (string_cache.h, which states their
 * invariants): setting a call up, the misses, and the key cache's making. */
#include "string_cache.h"

void lc_push_key_cache(lua_State *L)
{
    lc_key_cache *cache = lc_newuserdata_with_value(L, sizeof *cache);

    memset(cache, 0, sizeof *cache);
    lua_createtable(L, LC_KEY_SLOTS, 0); /* presized: storing into it never allocates (invariant 2) */
    lc_setuservalue(L, -2);
}

void lc_strings_open(lc_strings *sc, lua_State *L, int key_cache, size_t text_len)
{
    int cache_slot;

    sc->L = L;
    sc->keys = NULL;
    sc->near = 0;
    sc->values = 0;
    /* The cache stays on the stack for the call, alive whatever Lua code does to the upvalue.
     * Only the debug library could put anything else there, or in its user value; the size
     * check keeps the entries inside whatever it put. */
    lua_pushnil(L);
    lua_pushnil(L);
    cache_slot = lua_gettop(L) - 1;
    sc->table = cache_slot + 1;
    if (key_cache == 0)
        return;
    if (lua_type(L, key_cache) == LUA_TUSERDATA && lc_rawlen(L, key_cache) == sizeof(lc_key_cache)) {
        lua_pushvalue(L, key_cache);
        lua_replace(L, cache_slot);
        lc_getuservalue(L, cache_slot);
        lua_replace(L, sc->table);
        if (lua_type(L, sc->table) == LUA_TTABLE)
            sc->keys = lua_touserdata(L, cache_slot);
    }
    if (text_len >= LC_LARGE_TEXT) {
        if (sc->keys != NULL) {
            sc->near = lua_gettop(L) + 1;
            lua_settop(L, sc->near + LC_KEY_SLOTS - 1);
            memset(sc->near_stored_as, 0, sizeof sc->near_stored_as);
        }
    } else {
        sc->values = lua_gettop(L) + 1;
        lua_settop(L, sc->values + LC_VALUE_SLOTS - 1);
        memset(sc->value_entries, 0, sizeof sc->value_entries);
        memset(sc->value_victim, 0, sizeof sc->value_victim);
    }
}

/* Make the next victim of set `set` (round robin) the entry of a string of len bytes whose words
 * are head and tail; its bytes are for the caller to set. Returns its slot. */
static int take_victim(lc_cached_string *entries, unsigned char *victims, unsigned set, size_t len,
                       uint64_t head, uint64_t tail)
{
    int slot = (int)set * LC_WAYS + victims[set]++ % LC_WAYS;
    lc_cached_string *k = &entries[slot];

    k->len = len;
    k->head = head;
    k->tail = tail;
    return slot;
}

int lc_key_store(lc_strings *sc, const unsigned char *s, size_t len, uint64_t head, uint64_t tail)
{
    lua_State *L = sc->L;
    lc_key_cache *cache = sc->keys;
    unsigned set;
    int slot;

    lua_pushlstring(L, (const char *)s, len); /* may run the collector, so any finalizer */
    /* which may have decoded and stored the same key: it is not stored twice (invariant 3) */
    slot = lc_cache_find(cache->entries, LC_KEY_SETS, s, len, head, tail, &set);
    if (slot < 0) {
        /* the entry and its table slot change together, with no Lua code in between (invariant 2) */
        slot = take_victim(cache->entries, cache->victim, set, len, head, tail);
        memcpy(cache->bytes[slot], s, len);
        cache->entries[slot].bytes = cache->bytes[slot];
        lua_pushvalue(L, -1);
        lua_rawseti(L, sc->table, slot + 1);
        cache->stored_as[slot] = ++cache->stores;
    }
    return slot;
}

void lc_key_restore(lc_strings *sc, int slot)
{
    lua_State *L = sc->L;
    uint64_t stored_as = sc->keys->stored_as[slot];
    size_t len = sc->keys->entries[slot].len;
    char bytes[LC_CACHED_MAX_LEN];

    memcpy(bytes, sc->keys->bytes[slot], len); /* a finalizer may store over it while the string is made */
    lua_pop(L, 1);
    lua_pushlstring(L, bytes, len);
    if (sc->keys->stored_as[slot] == stored_as) {
        lua_pushvalue(L, -1);
        lua_rawseti(L, sc->table, slot + 1);
    }
}

void lc_value_store(lc_strings *sc, const unsigned char *s, size_t len, unsigned set, uint64_t head,
                    uint64_t tail)
{
    int slot;

    lua_pushlstring(sc->L, (const char *)s, len);
    slot = take_victim(sc->value_entries, sc->value_victim, set, len, head, tail);
    sc->value_entries[slot].bytes = lua_tostring(sc->L, -1); /* its slot keeps it alive (invariant 1) */
    lc_copy_top(sc->L, sc->values + slot);
}
