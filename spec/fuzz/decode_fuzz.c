/* decode_fuzz.c — libFuzzer target for the JSON decoder (csrc/decode.c, csrc/number.c).
 *
 * Feeds arbitrary bytes to lc_decode_buffer in one long-lived Lua state and
 * checks what the contract promises: exactly one value or one error message is
 * pushed, the message has the documented shape, and nothing else moves; and that
 * a text decoded with the caches gives the same value as without. The first byte
 * picks max_depth, so the depth limit is fuzzed too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "../../csrc/leadconduit.h"
#include "same_value.h"

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int max_depth = LC_DEFAULT_MAX_DEPTH, top, ok;
    const char *text;

    L = fuzz_state();
    if (size > 0 && data[0] == '#') { /* "#<n>..." : a small max_depth for this input */
        max_depth = size > 1 ? data[1] % 64 : 0;
        data += size > 1 ? 2 : 1;
        size -= size > 1 ? 2 : 1;
    }
    text = push_input(L, data, size);
    top = lua_gettop(L);
    ok = lc_decode_buffer(L, text, size, max_depth, FUZZ_KEY_CACHE);
    if (lua_gettop(L) != top + 1)
        abort(); /* the stack must grow by exactly the result */
    if (!ok) {
        const char *msg = lua_tostring(L, -1);

        if (msg == NULL || strncmp(msg, "leadconduit.decode: ", 20) != 0 || strstr(msg, " at byte ") == NULL)
            abort();
    } else {
        /* The caches must not change a value: decoded with none, and again with the key cache
         * (which now holds this text's keys, so that its objects take the distinct-keys path),
         * the text gives the same value. */
        if (!lc_decode_buffer(L, text, size, max_depth, 0) || !same_value(L, top + 1, top + 2))
            abort();
        if (!lc_decode_buffer(L, text, size, max_depth, FUZZ_KEY_CACHE) || !same_value(L, top + 1, top + 3))
            abort();
    }
    lua_settop(L, top - 1); /* and the input */
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
