/* asan_lua.c — a minimal `lua5.4 script args...` linked with AddressSanitizer and UBSan.
 *
 * `make sanitize` runs busted with it instead of preloading the ASan runtime into
 * lua5.4: a preloaded runtime is inherited by every child (the mock server's nginx
 * deadlocks under it), a linked one stays in this process. Installed as `lua5.4`
 * first in PATH, so specs that spawn `lua5.4 -e ...` get it too. Only what they
 * need of lua.c is here: `-e chunk`, a script with `arg` and `...`, a traceback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

static int traceback(lua_State *L)
{
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
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
            status = lua_pcall(L, 0, 0, 1);
        report(L, argv[0], status);
    }
    if (status == LUA_OK && script < argc) {
        status = luaL_loadfile(L, argv[script]);
        if (status == LUA_OK) {
            for (i = script + 1; i < argc; i++)
                lua_pushstring(L, argv[i]);
            status = lua_pcall(L, argc - script - 1, 0, 1);
        }
        report(L, argv[0], status);
    }
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}
