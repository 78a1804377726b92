/* roundtrip_fuzz.c — libFuzzer target for decode -> encode -> decode (csrc/decode.c, csrc/encode.c).
 *
 * decode_fuzz.c checks that the decoder keeps its contract; this one checks the values. Whatever
 * lc_decode_buffer accepts, lc_encode must write as JSON that decodes to the same value: tables
 * recursively, strings byte for byte, integers exactly, floats bit for bit. The one value the
 * decoder produces that the encoder may refuse is an infinity (a literal like 1e400), and then
 * only with encode's own message. Any other difference aborts. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "../../csrc/leadconduit.h"
#include "same_value.h"

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the value at absolute index i holds an infinity anywhere. */
static int has_infinity(int i)
{
    if (lua_type(L, i) == LUA_TNUMBER) {
        lua_Number d = lua_tonumber(L, i);
        return !lc_isinteger(L, i) && isinf(d);
    }
    if (lua_type(L, i) != LUA_TTABLE)
        return 0;
    if (!lua_checkstack(L, 3))
        abort();
    lua_pushnil(L);
    while (lua_next(L, i) != 0) {
        if (has_infinity(lua_gettop(L))) {
            lua_pop(L, 2);
            return 1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

static void check(const uint8_t *data, size_t size)
{
    int top, first;
    const char *text = push_input(L, data, size);

    top = lua_gettop(L);
    if (!lc_decode_buffer(L, text, size, LC_DEFAULT_MAX_DEPTH, FUZZ_KEY_CACHE)) {
        lua_settop(L, top); /* decode_fuzz.c checks the errors */
        return;
    }
    first = top + 1;

    push_encoded(L, first, -1);
    if (lua_isnil(L, -2)) {
        const char *msg = lua_tostring(L, -1);

        if (msg == NULL ||
            strcmp(msg, "leadconduit.encode: NaN and infinity have no JSON representation") != 0 ||
            !has_infinity(first))
            abort();
        lua_settop(L, top);
        return;
    }
    lua_pop(L, 1);
    assert_decodes_to(L, first);
    lua_settop(L, top);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int top;

    L = fuzz_state();
    top = lua_gettop(L);
    check(data, size);
    lua_settop(L, top); /* the input */
    fuzz_collect(L);
    return 0;
}
