/* module.c — the two entry points and the core's small functions.
 *
 * luaopen_leadconduit_core builds the C core (decode, encode, the libcurl transport, the null
 * sentinel, the array metatable, a clock, a sleep, two file calls) that the Lua helpers in lua/leadconduit/
 * build on; luaopen_leadconduit returns the public table, which lua/leadconduit/public.lua
 * assembles. C does the mechanics; the helpers decide. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>

#include <curl/curl.h>

#include "leadconduit.h"

double lc_monotime(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* core.monotime() -> lc_monotime() */
static int core_monotime(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)lc_monotime());
    return 1;
}

/* core.sleep(seconds): block the calling thread; the client's wait between retries outside
 * nginx (inside nginx it waits with ngx.sleep instead). */
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

/* core.curl_version() -> "libcurl/7.88.1", for the default User-Agent. */
static int core_curl_version(lua_State *L)
{
    const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);

    lua_pushfstring(L, "libcurl/%s", info->version);
    return 1;
}

/* core.process_alive(pid) -> whether a process with that id exists: the account cache takes
 * over the lock of an nginx worker that is gone. Signal 0 checks without sending anything. */
static int core_process_alive(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);

    if (pid <= 0 || pid > INT_MAX)
        return luaL_argerror(L, 1, "not a process id");
    lua_pushboolean(L, kill((pid_t)pid, 0) == 0 || errno == EPERM);
    return 1;
}

static const luaL_Reg core_functions[] = {
    {"encode", lc_encode},
    {"sleep", core_sleep},
    {"monotime", core_monotime},
    {"curl_version", core_curl_version},
    {"process_alive", core_process_alive},
    {NULL, NULL},
};

int luaopen_leadconduit_core(lua_State *L)
{
    /* libcurl wants this once per process before any handle exists; it is reference
     * counted, so a second interpreter in the process (nginx's worker threads) is harmless. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return luaL_error(L, "leadconduit: curl_global_init failed");

    lua_newtable(L);
    lc_setfuncs(L, core_functions);
    lc_push_key_cache(L);
    lua_pushcclosure(L, lc_decode, 1);
    lua_setfield(L, -2, "decode");
    lc_open_files(L);

    lua_pushliteral(L, "leadconduit " LEADCONDUIT_VERSION);
    lua_setfield(L, -2, "_VERSION");

    /* lightuserdata(NULL) is the same value lua-cjson and ngx use for null. */
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");

    luaL_newmetatable(L, LC_ARRAY_MT);
    lua_setfield(L, -2, "array_mt");

    lc_open_transport(L, lua_gettop(L));
    lc_open_driver(L, lua_gettop(L));
    return 1;
}

int luaopen_leadconduit(lua_State *L)
{
    /* The core goes into package.loaded first, as require would put it there, so that the
     * helpers find it however this library was loaded. */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_getfield(L, -1, "leadconduit.core");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        luaopen_leadconduit_core(L);
        lua_setfield(L, -2, "leadconduit.core");
    }
    lua_settop(L, 0);

    lua_getglobal(L, "require");
    lua_pushliteral(L, "leadconduit.public");
    lua_call(L, 1, 1);
    return 1;
}
