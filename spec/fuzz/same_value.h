/* same_value.h — what the fuzz targets share: one Lua state per run and, for those that compare
 * values, the structural equality of two decoded values and the check that a JSON text decodes
 * back to a value.
 *
 * Static, so each target (one translation unit) has its own copy. */
#ifndef LEADCONDUIT_SAME_VALUE_H
#define LEADCONDUIT_SAME_VALUE_H

#include <stdlib.h>
#include <string.h>

#include "../../csrc/compat.h"

/* The stack slot of the state's key cache. Each input starts with an empty one (fuzz_state), so
 * that a crash comes back from its input's file alone; within an input the cache keeps the keys of
 * one decode for the next, as the decode function's upvalue does from call to call. */
#define FUZZ_KEY_CACHE 1

/* Whether the values at absolute indices a and b are the same JSON value. */
static int same_value(lua_State *L, int a, int b)
{
    int ta = lua_type(L, a), ok;

    if (ta != lua_type(L, b))
        return 0;
    switch (ta) {
    case LUA_TSTRING: {
        size_t na, nb;
        const char *sa = lua_tolstring(L, a, &na), *sb = lua_tolstring(L, b, &nb);
        return na == nb && memcmp(sa, sb, na) == 0;
    }
    case LUA_TNUMBER: {
        lua_Number da, db;

        if (lc_isinteger(L, a) != lc_isinteger(L, b))
            return 0; /* 1 and 1.0 are different values to the caller (math.type) */
#if LC_HAS_INTEGERS
        if (lc_isinteger(L, a))
            return lua_tointeger(L, a) == lua_tointeger(L, b);
#endif
        /* bitwise, so that -0.0 and 0.0 differ (the decoder never makes a NaN) */
        da = lua_tonumber(L, a);
        db = lua_tonumber(L, b);
        return memcmp(&da, &db, sizeof da) == 0;
    }
    case LUA_TBOOLEAN: return lua_toboolean(L, a) == lua_toboolean(L, b);
    case LUA_TLIGHTUSERDATA: return lua_touserdata(L, a) == NULL && lua_touserdata(L, b) == NULL;
    case LUA_TTABLE: break;
    default: return 0; /* the decoder makes nothing else */
    }

    /* Arrays carry array_mt, objects no metatable: [] and {} must stay apart. */
    if (!lua_checkstack(L, 6))
        abort();
    ok = lua_getmetatable(L, a);
    ok += lua_getmetatable(L, b);
    if (ok == 1 || (ok == 2 && !lua_rawequal(L, -1, -2)))
        return 0;
    lua_pop(L, ok);

    /* Every key of a is in b with the same value, and b has no other keys. */
    ok = 0;
    lua_pushnil(L);
    while (lua_next(L, a) != 0) { /* stack: ... key value_a */
        lua_pushvalue(L, -2);
        lua_rawget(L, b); /* stack: ... key value_a value_b */
        if (!same_value(L, lua_gettop(L) - 1, lua_gettop(L))) {
            lua_pop(L, 3);
            return 0;
        }
        lua_pop(L, 2);
        ok++;
    }
    lua_pushnil(L);
    while (lua_next(L, b) != 0) {
        lua_pop(L, 1);
        ok--;
    }
    return ok == 0;
}

/* Push what leadconduit.encode(value [, { indent = indent }]) returns (the JSON text and nil, or
 * nil and the message), for the value at `value`; no options when indent < 0. lc_encode is a
 * lua_CFunction (it addresses its arguments from 1), so it gets a call. */
static inline void push_encoded(lua_State *L, int value, int indent)
{
    lua_pushcfunction(L, lc_encode);
    lua_pushvalue(L, value);
    if (indent >= 0) {
        lua_createtable(L, 0, 1);
        lua_pushinteger(L, indent);
        lua_setfield(L, -2, "indent");
    }
    if (lua_pcall(L, indent >= 0 ? 2 : 1, 2, 0) != LC_OK)
        abort(); /* it raises only on memory exhaustion, which the limits here rule out */
}

/* The JSON text on top of the stack must decode to the same value as the one at `expected`. */
static inline void assert_decodes_to(lua_State *L, int expected)
{
    size_t len;
    const char *json = lua_tolstring(L, -1, &len);

    if (json == NULL || !lc_decode_buffer(L, json, len, LC_DEFAULT_MAX_DEPTH, FUZZ_KEY_CACHE))
        abort(); /* the encoder wrote something its own decoder refuses */
    if (!same_value(L, expected, lua_gettop(L)))
        abort();
}

/* The input as a Lua string, pushed: lc_decode_buffer reads the NUL byte after a text, which
 * every Lua string has and libFuzzer's bytes do not. Under ASan a read past that NUL is caught. */
static inline const char *push_input(lua_State *L, const uint8_t *data, size_t size)
{
    lua_pushlstring(L, (const char *)data, size);
    return lua_tostring(L, -1);
}

/* One Lua state for the whole run, with the array metatable module.c registers before any
 * decode or encode, and a key cache, empty at the start of each input. */
static inline lua_State *fuzz_state(void)
{
    static lua_State *L;

    if (L == NULL) {
        L = luaL_newstate();
        if (L == NULL)
            abort();
        luaL_newmetatable(L, LC_ARRAY_MT);
        lua_pop(L, 1);
        lc_push_key_cache(L);
    }
    lc_push_key_cache(L);
    lua_replace(L, FUZZ_KEY_CACHE);
    return L;
}

/* After each input: a full collection, not a step. Every input then frees what it allocated but
 * the keys it left in the key cache (still reachable, so libFuzzer's leak check, run whenever an
 * input's mallocs and frees differ, stays quiet). */
static inline void fuzz_collect(lua_State *L)
{
    lua_gc(L, LUA_GCCOLLECT, 0);
}

#endif
