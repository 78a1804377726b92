/* decode.c — JSON text to Lua values (placeholder until the decoder lands). */
#include "leadconduit.h"

int lc_decode_buffer(lua_State *L, const char *text, size_t len, int max_depth)
{
    (void)text; (void)len; (void)max_depth;
    lua_pushliteral(L, "leadconduit.decode: not implemented at byte 1 (line 1, column 1)");
    return 0;
}

int lc_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);

    if (lc_decode_buffer(L, text, len, LC_DEFAULT_MAX_DEPTH))
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}
