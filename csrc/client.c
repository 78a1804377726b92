/* client.c — placeholder */
#include "leadconduit.h"
void lc_open_client(lua_State *L) { lua_pushnil(L); }
