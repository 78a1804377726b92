/* compat.h — the Lua C API differences between 5.1/LuaJIT, 5.2, 5.3 and 5.4 that the module meets,
 * and the one compiler attribute the C files share (LC_ALWAYS_INLINE).
 *
 * Every shim is prefixed lc_ so it never collides with what an interpreter already declares:
 * LuaJIT reports LUA_VERSION_NUM 501 yet ships luaL_setfuncs, so defining the unprefixed name
 * would not compile there. Write lc_* and it builds on all. */
#ifndef LEADCONDUIT_COMPAT_H
#define LEADCONDUIT_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

/* Whether words may be read from memory as little-endian integers, the first byte lowest (the
 * digits and string scans 8 bytes at a time). The portable build (make check-portable:
 * -U__SSE2__ -DLC_PORTABLE) says no, so that the byte-at-a-time paths are built and tested too. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && !defined(LC_PORTABLE)
#define LC_LITTLE_ENDIAN_WORDS 1
#endif

/* For the small helpers of the decoder's hot paths, which -O2 would otherwise call: a call costs
 * more than the scan of a short run or the compare of a cached key. */
#define LC_ALWAYS_INLINE static inline __attribute__((always_inline))

#if LUA_VERSION_NUM >= 502
#define LC_OK LUA_OK
#define lc_setfuncs(L, l) luaL_setfuncs((L), (l), 0)
#else /* Lua 5.1 and LuaJIT */
#define LC_OK 0
/* Register the functions of a NULL-terminated luaL_Reg list into the table on top. */
static inline void lc_setfuncs(lua_State *L, const luaL_Reg *l)
{
    for (; l->name != NULL; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}
#endif

/* The length of a string, or the size of a userdata, without metamethods. */
#if LUA_VERSION_NUM >= 502
#define lc_rawlen(L, i) lua_rawlen((L), (i))
#else
#define lc_rawlen(L, i) lua_objlen((L), (i))
#endif

/* Lua 5.3+ has a distinct integer subtype; older interpreters only doubles
 * (there lua_pushinteger pushes a double and lc_isinteger is always false). */
#if LUA_VERSION_NUM >= 503
#define LC_HAS_INTEGERS 1
#define lc_isinteger(L, i) lua_isinteger((L), (i))
#else
#define LC_HAS_INTEGERS 0
#define lc_isinteger(L, i) ((void)(L), (void)(i), 0)
#endif

/* The top's value copied into the slot `to` (an absolute index), the top staying: one call on 5.2+,
 * where a lua_pushvalue and a lua_replace would be three (lua_replace is a copy and a pop). */
#if LUA_VERSION_NUM >= 502
#define lc_copy_top(L, to) lua_copy((L), -1, (to))
#else
#define lc_copy_top(L, to) (lua_pushvalue((L), -1), lua_replace((L), (to)))
#endif

/* Userdata without user values: lua_newuserdata allocates one on 5.4. */
#if LUA_VERSION_NUM >= 504
#define lc_newuserdata(L, size) lua_newuserdatauv((L), (size), 0)
#else
#define lc_newuserdata(L, size) lua_newuserdata((L), (size))
#endif

/* Userdata with one user value, a table (the environment on 5.1): set from the top, which is
 * popped, and pushed. */
#if LUA_VERSION_NUM >= 504
#define lc_newuserdata_with_value(L, size) lua_newuserdatauv((L), (size), 1)
#define lc_setuservalue(L, i) ((void)lua_setiuservalue((L), (i), 1))
#define lc_getuservalue(L, i) ((void)lua_getiuservalue((L), (i), 1))
#elif LUA_VERSION_NUM >= 502
#define lc_newuserdata_with_value(L, size) lua_newuserdata((L), (size))
#define lc_setuservalue(L, i) lua_setuservalue((L), (i))
#define lc_getuservalue(L, i) ((void)lua_getuservalue((L), (i)))
#else
#define lc_newuserdata_with_value(L, size) lua_newuserdata((L), (size))
#define lc_setuservalue(L, i) ((void)lua_setfenv((L), (i)))
#define lc_getuservalue(L, i) lua_getfenv((L), (i))
#endif

/* lua_rawgeti, returning the type of what it pushed (as it does itself on 5.3+). */
#if LUA_VERSION_NUM >= 503
#define lc_rawgeti(L, i, n) lua_rawgeti((L), (i), (n))
#else
static inline int lc_rawgeti(lua_State *L, int i, int n)
{
    lua_rawgeti(L, i, n);
    return lua_type(L, -1);
}
#endif

#endif
