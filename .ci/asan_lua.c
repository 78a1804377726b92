/* asan_lua.c — a minimal `lua5.4 script args...` linked with AddressSanitizer and UBSan.
 *
 * `make sanitize` runs busted with it instead of preloading the ASan runtime into
 * lua5.4: a preloaded runtime is inherited by every child (the mock server's nginx
 * deadlocks under it), a linked one stays in this process. Installed as `lua5.4`
 * first in PATH, so specs that spawn `lua5.4 -e ...` get it too. Only what they
 * need of lua.c is here: `-e chunk`, a script with `arg` and `...`, a traceback, and Ctrl-C
 * raising "interrupted!" (a script started in the background of a shell, which ignores SIGINT,
 * must still stop on it: spec/make_mock_spec.lua). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* As lua.c's msghandler: an error object that is no string shows through its __tostring, or
 * as its type (spec/readme_spec.lua compares what an uncaught error table prints). */
static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* As lua.c: SIGINT sets a hook that raises "interrupted!" at the next Lua instruction. */
static lua_State *running;

static void interrupted(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

static void on_sigint(int sig)
{
    signal(sig, SIG_DFL); /* a second Ctrl-C ends the process */
    lua_sethook(running, interrupted, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static int call(lua_State *L, int nargs)
{
    int status;

    running = L;
    signal(SIGINT, on_sigint);
    status = lua_pcall(L, nargs, 0, 1);
    signal(SIGINT, SIG_DFL);
    return status;
}

static int report(lua_State *L, const char *progname, int status)
{
    if (status != LUA_OK)
        fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
    return status;
}

int main(int argc, char **argv)
{
    lua_State *L;
    int i, first, script, status = LUA_OK;

    L = luaL_newstate();
    if (L == NULL)
        return 1;
    luaL_openlibs(L);

    /* options come first: only -e chunk, as spawned by specs (`lua5.4 -e ...`) */
    for (script = 1; script < argc && argv[script][0] == '-'; script += 2) {
        if (argv[script][1] != 'e' || argv[script][2] != '\0' || script + 1 >= argc) {
            fprintf(stderr, "%s: only '-e chunk' and 'script [args]' are supported\n", argv[0]);
            return 2;
        }
    }
    /* arg[0] = script, arg[1..] = its arguments, negative indices = interpreter and options */
    first = script < argc ? script : 0; /* no script: arg[0] is the interpreter, as in lua.c */
    lua_createtable(L, argc, first + 1);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - first);
    }
    lua_setglobal(L, "arg");

    lua_pushcfunction(L, traceback);
    for (i = 1; i < script && status == LUA_OK; i += 2) {
        status = luaL_loadbuffer(L, argv[i + 1], strlen(argv[i + 1]), "=(command line)");
        if (status == LUA_OK)
            status = call(L, 0);
        report(L, argv[0], status);
    }
    if (status == LUA_OK && script < argc) {
        status = luaL_loadfile(L, argv[script]);
        if (status == LUA_OK) {
            for (i = script + 1; i < argc; i++)
                lua_pushstring(L, argv[i]);
            status = call(L, argc - script - 1);
        }
        report(L, argv[0], status);
    }
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}
