/* compat.h — the few Lua C API differences between 5.1/LuaJIT, 5.3 and 5.4.
 *
 * Every shim is prefixed lc_ so it never collides with what an interpreter
 * already declares: LuaJIT reports LUA_VERSION_NUM 501 yet ships
 * luaL_setfuncs, so defining the unprefixed names would not compile there. */
#ifndef LEADCONDUIT_COMPAT_H
#define LEADCONDUIT_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM >= 502
#define lc_setfuncs(L, l) luaL_setfuncs((L), (l), 0)
#define lc_rawlen(L, i) lua_rawlen((L), (i))
#else
/* Register the functions of a NULL-terminated luaL_Reg list into the table on top. */
static inline void lc_setfuncs(lua_State *L, const luaL_Reg *l)
{
    for (; l->name != NULL; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}
#define lc_rawlen(L, i) lua_objlen((L), (i))
#endif

/* Lua 5.3+ has a distinct integer subtype; older interpreters only doubles. */
#if LUA_VERSION_NUM >= 503
#define LC_HAS_INTEGERS 1
#else
#define LC_HAS_INTEGERS 0
#endif

#endif
