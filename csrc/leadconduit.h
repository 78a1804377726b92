/* leadconduit.h — what the C files of the module share, and nothing else.
 *
 * module.c assembles the module table; decode.c turns JSON into Lua values;
 * client.c performs one HTTP exchange through libcurl. Only luaopen_leadconduit
 * is exported from the shared object; everything here is internal. */
#ifndef LEADCONDUIT_H
#define LEADCONDUIT_H

#include <stddef.h>
#include "compat.h"

#define LEADCONDUIT_VERSION "0.1.0"

/* The build hides every symbol (-fvisibility=hidden); this one is the entry point. */
#define LC_EXPORT __attribute__((visibility("default")))

LC_EXPORT int luaopen_leadconduit(lua_State *L);

/* Registry key of the metatable that every decoded JSON array carries. */
#define LC_ARRAY_MT "leadconduit.array_mt"

/* Default nesting limit of the decoder (API.md: opts.max_depth). */
#define LC_DEFAULT_MAX_DEPTH 1000

/* Decode the JSON text [text, text+len) and push the resulting Lua value.
 * Returns 1 with the value on the stack, or 0 with an error message string
 * ("leadconduit.decode: <what> at byte <n> (line <l>, column <c>)") on the stack.
 * Never raises for bad input; may raise only on memory exhaustion. */
int lc_decode_buffer(lua_State *L, const char *text, size_t len, int max_depth);

/* leadconduit.decode(text [, opts]) -> value | nil, errmsg */
int lc_decode(lua_State *L);

/* leadconduit.encode(value [, opts]) -> json | nil, errmsg (encode.c): sorted keys, null kept. */
int lc_encode(lua_State *L);

/* Register the client userdata's metatable and push leadconduit._transport. */
void lc_open_client(lua_State *L);

#endif
