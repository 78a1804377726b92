/* leadconduit.h — what the C files of the module share, and nothing else.
 *
 * module.c    the two entry points: leadconduit.core (the C core) and leadconduit (the module)
 * transport.c one HTTP exchange through libcurl
 * decode.c    JSON text -> Lua values (with scan.h, utf8.h, number.c and string_cache.c)
 * encode.c    Lua values -> JSON text
 * files.c     file_info and write_private, for the command-line tool
 * compat.h    the Lua versions' differences
 * The build hides every other symbol (-fvisibility=hidden). */
#ifndef LEADCONDUIT_H
#define LEADCONDUIT_H

#include <stddef.h>
#include "compat.h"

#define LEADCONDUIT_VERSION "0.2.0"

#define LC_EXPORT __attribute__((visibility("default")))

/* require "leadconduit" */
LC_EXPORT int luaopen_leadconduit(lua_State *L);
/* require "leadconduit.core": found in the same shared object by Lua's all-in-one loader, so
 * that every Lua helper loads on its own. */
LC_EXPORT int luaopen_leadconduit_core(lua_State *L);

/* Registry key of the metatable that every decoded JSON array carries. */
#define LC_ARRAY_MT "leadconduit.array_mt"

/* Default nesting limit of the decoder and the encoder (API.md: opts.max_depth). */
#define LC_DEFAULT_MAX_DEPTH 1000

/* Decode the JSON text [text, text+len), which text[len] == '\0' must follow (as it follows
 * every Lua string: the parser reads that byte instead of testing for the end at each token),
 * and push the resulting Lua value.
 * Returns 1 with the value on the stack, or 0 with an error message string
 * ("leadconduit.decode: <what> at byte <n> (line <l>, column <c>)") on the stack.
 * Never raises for bad input; may raise only on memory exhaustion. `key_cache` is the absolute
 * stack index, or the upvalue index, of a key cache made by lc_push_key_cache and kept from call to
 * call; 0 for no cache at all, not even the call's own cache of values (the fuzz targets decode
 * so for a reference). */
int lc_decode_buffer(lua_State *L, const char *text, size_t len, int max_depth, int key_cache);

/* Push a new, empty key cache for lc_decode_buffer. */
void lc_push_key_cache(lua_State *L);

/* leadconduit.decode(text [, opts]) -> value | nil, errmsg; its upvalue 1 is a key cache. */
int lc_decode(lua_State *L);

/* leadconduit.encode(value [, opts]) -> json | nil, errmsg: sorted keys, null kept. */
int lc_encode(lua_State *L);

/* Register the transport's metatable; set core.transport and core.curl_codes in the table at
 * index `core`. */
void lc_open_transport(lua_State *L, int core);

/* Set core.driver_socket, csrc/driver.c's, in the table at index `core`. */
void lc_open_driver(lua_State *L, int core);

/* Hand an easy handle (its CURLOPT_PRIVATE: what lc_transport_finished gets) to this process's
 * driver thread: NULL, or why it cannot be taken. */
const char *lc_driver_add(void *curl, void *transport);

/* The driver thread's call when libcurl ended the exchange of a transport with `code`: the id to
 * report (also when the transport was closed meanwhile, and is now freed: a request abandoned
 * while it waited still has its reader's attention). */
double lc_transport_finished(void *transport, int code);

/* pthread_atfork's handlers for transport.c's mutex (csrc/driver.c registers them). */
void lc_transport_lock(void);
void lc_transport_unlock(void);

/* Set core.file_info and core.write_private in the table on top. */
void lc_open_files(lua_State *L);

/* Seconds from an arbitrary origin that never go backwards, the same in every thread of the
 * process (CLOCK_MONOTONIC): the clock of deadlines. */
double lc_monotime(void);

#endif
