/* module.c — luaopen_leadconduit: assembles the module table.
 *
 * The C core (decode, null, array_mt, the libcurl transport, a sleep) is
 * published as package.loaded["leadconduit.core"] so that the Lua helpers in
 * lua/leadconduit/ can reach it; the public table is the core's public fields
 * plus every function the helpers export. Policy lives in the helpers. */
#include <errno.h>
#include <math.h>
#include <time.h>

#include <curl/curl.h>

#include "leadconduit.h"

/* Helper modules whose exported fields become fields of the public table. */
static const char *const helper_modules[] = {
    "leadconduit.time",
    "leadconduit.partners",
    "leadconduit.features",
    "leadconduit.client",
    NULL,
};

/* core.sleep(seconds): block the calling thread; used between retries outside
 * nginx (inside nginx the client sleeps with ngx.sleep instead). */
static int core_sleep(lua_State *L)
{
    lua_Number seconds = luaL_checknumber(L, 1);
    struct timespec ts;

    /* Converting a double beyond time_t's range (or inf, NaN) to time_t is undefined. */
    if (!(seconds <= 86400))
        return luaL_argerror(L, 1, "seconds must be a number of at most 86400");
    if (!(seconds > 0))
        return 0;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (lua_Number)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}

/* core.monotime() -> seconds from an arbitrary origin, never going backwards. */
static int core_monotime(lua_State *L)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* core.curl_version() -> "libcurl/7.88.1", for the default User-Agent. */
static int core_curl_version(lua_State *L)
{
    const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);

    lua_pushfstring(L, "libcurl/%s", info->version);
    return 1;
}

static const luaL_Reg core_functions[] = {
    {"decode", lc_decode},
    {"encode", lc_encode},
    {"sleep", core_sleep},
    {"monotime", core_monotime},
    {"curl_version", core_curl_version},
    {NULL, NULL},
};

/* Fields of the core that are part of the public contract. */
static const char *const public_core_fields[] = {
    "_VERSION", "null", "array_mt", "decode", "encode", NULL,
};

/* Push the core table: C functions, the null sentinel and the array metatable. */
static void push_core(lua_State *L)
{
    lua_newtable(L);
    lc_setfuncs(L, core_functions);

    lua_pushliteral(L, "leadconduit " LEADCONDUIT_VERSION);
    lua_setfield(L, -2, "_VERSION");

    /* lightuserdata(NULL) is the same value lua-cjson and ngx use for null. */
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");

    luaL_newmetatable(L, LC_ARRAY_MT);
    lua_setfield(L, -2, "array_mt");

    lc_open_client(L); /* pushes the transport constructor */
    lua_setfield(L, -2, "transport");
}

/* Copy every field of the table at the top into the table at index `into`. */
static void merge_fields(lua_State *L, int into)
{
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, into); /* into[key] = value; pops value and key copy */
    }
}

int luaopen_leadconduit(lua_State *L)
{
    int core, module;
    const char *const *name;

    /* libcurl wants this once per process before any handle exists; it is
     * reference counted, so a second interpreter in the process is harmless. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return luaL_error(L, "leadconduit: curl_global_init failed");

    push_core(L);
    core = lua_gettop(L);

    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_pushvalue(L, core);
    lua_setfield(L, -2, "leadconduit.core");
    lua_pop(L, 2);

    lua_newtable(L);
    module = lua_gettop(L);
    for (name = public_core_fields; *name != NULL; name++) {
        lua_getfield(L, core, *name);
        lua_setfield(L, module, *name);
    }

    for (name = helper_modules; *name != NULL; name++) {
        lua_getglobal(L, "require");
        lua_pushstring(L, *name);
        lua_call(L, 1, 1);
        luaL_checktype(L, -1, LUA_TTABLE);
        merge_fields(L, module);
        lua_pop(L, 1);
    }
    return 1;
}
