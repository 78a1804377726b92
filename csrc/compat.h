/* compat.h — the few Lua C API differences between 5.1/LuaJIT, 5.3 and 5.4.
 *
 * Every shim is prefixed lc_ so it never collides with what an interpreter
 * already declares: LuaJIT reports LUA_VERSION_NUM 501 yet ships
 * luaL_setfuncs, luaL_testudata and luaL_setmetatable, so defining the
 * unprefixed names would not compile there. Write lc_* and it builds on all. */
#ifndef LEADCONDUIT_COMPAT_H
#define LEADCONDUIT_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM >= 502

#define LC_OK LUA_OK
#define lc_setfuncs(L, l) luaL_setfuncs((L), (l), 0)
#define lc_rawlen(L, i) lua_rawlen((L), (i))
#define lc_absindex(L, i) lua_absindex((L), (i))
#define lc_testudata(L, i, tname) luaL_testudata((L), (i), (tname))
#define lc_setmetatable(L, tname) luaL_setmetatable((L), (tname))

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

#define lc_rawlen(L, i) lua_objlen((L), (i))

/* Turn a stack-relative index into an absolute one (pseudo-indices kept). */
static inline int lc_absindex(lua_State *L, int i)
{
    return (i > 0 || i <= LUA_REGISTRYINDEX) ? i : lua_gettop(L) + i + 1;
}

/* The userdata at i when its metatable is the registry's tname, else NULL. */
static inline void *lc_testudata(lua_State *L, int i, const char *tname)
{
    void *p = lua_touserdata(L, i);

    if (p == NULL || !lua_getmetatable(L, i))
        return NULL;
    luaL_getmetatable(L, tname);
    if (!lua_rawequal(L, -1, -2))
        p = NULL;
    lua_pop(L, 2);
    return p;
}

/* Set the registry's metatable tname on the value on top of the stack. */
static inline void lc_setmetatable(lua_State *L, const char *tname)
{
    luaL_getmetatable(L, tname);
    lua_setmetatable(L, -2);
}

#endif

/* Lua 5.3+ has a distinct integer subtype; older interpreters only doubles
 * (there lua_pushinteger pushes a double and lc_isinteger is always false). */
#if LUA_VERSION_NUM >= 503
#define LC_HAS_INTEGERS 1
#define lc_isinteger(L, i) lua_isinteger((L), (i))
/* lua_getfield returns the pushed value's type from 5.3 on. */
#define lc_getfield(L, i, k) lua_getfield((L), (i), (k))
#else
#define LC_HAS_INTEGERS 0
#define lc_isinteger(L, i) ((void)(L), (void)(i), 0)
static inline int lc_getfield(lua_State *L, int i, const char *k)
{
    lua_getfield(L, i, k);
    return lua_type(L, -1);
}
#endif

/* Userdata without user values: lua_newuserdata allocates one on 5.4. */
#if LUA_VERSION_NUM >= 504
#define lc_newuserdata(L, size) lua_newuserdatauv((L), (size), 0)
#else
#define lc_newuserdata(L, size) lua_newuserdata((L), (size))
#endif

#endif
