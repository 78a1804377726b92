/* encode_fuzz.c — libFuzzer target for the JSON encoder (csrc/encode.c), checked by the decoder.
 *
 * The fuzz bytes become Lua values the decoder could never produce (strings with any bytes,
 * numbers with any bits), so the encoder's refusals are reached too. The first byte picks the
 * shape and the indent; the rest is the payload:
 *   shape 0  the payload as one string
 *   shape 1  an object mapping each 0xFE-separated piece of the payload to itself
 *   shape 2  an array of those pieces
 *   shape 3  an array of the doubles in each 8 bytes of the payload (any bits: NaN, inf, -0)
 *   shape 4  the same as integers (5.3+; doubles again on 5.1 and 5.2)
 * lc_encode must refuse exactly the values JSON cannot hold (a string that is not UTF-8, by a
 * validator written here, not encode's; NaN or an infinity), with its message, and otherwise write
 * JSON that lc_decode_buffer reads back as the same value. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "../../csrc/leadconduit.h"
#include "same_value.h"

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strict RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0, k, len;
    uint32_t c;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (s[i] >= 0xC2 && s[i] <= 0xDF)
            len = 2, c = s[i] & 0x1F;
        else if (s[i] >= 0xE0 && s[i] <= 0xEF)
            len = 3, c = s[i] & 0x0F;
        else if (s[i] >= 0xF0 && s[i] <= 0xF4)
            len = 4, c = s[i] & 0x07;
        else
            return 0;
        if (n - i < len)
            return 0;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            c = c << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10FFFF ||
            (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Push the value of the given shape; *refusal is set to the message encode must give, or NULL. */
static void push_value(int shape, const uint8_t *p, size_t n, const char **refusal)
{
    static const char *not_utf8 = "leadconduit.encode: string is not valid UTF-8";
    static const char *not_finite = "leadconduit.encode: NaN and infinity have no JSON representation";
    size_t i, start, count = 0;

    *refusal = NULL;
    if (shape == 0) {
        lua_pushlstring(L, (const char *)p, n);
        if (!valid_utf8(p, n))
            *refusal = not_utf8;
        return;
    }
    lua_newtable(L);
    if (shape <= 2) {
        for (start = i = 0; i <= n; i++) {
            if (i < n && p[i] != 0xFE)
                continue;
            if (!valid_utf8(p + start, i - start))
                *refusal = not_utf8;
            lua_pushlstring(L, (const char *)p + start, i - start);
            if (shape == 1) {
                lua_pushvalue(L, -1);
                lua_rawset(L, -3);
            } else {
                lua_rawseti(L, -2, (int)++count);
            }
            start = i + 1;
        }
    } else {
        for (i = 0; i + 8 <= n; i += 8) {
            double d;
            int64_t v;

            memcpy(&d, p + i, 8);
            memcpy(&v, p + i, 8);
#if LC_HAS_INTEGERS
            if (shape == 4)
                lua_pushinteger(L, (lua_Integer)v);
            else
#endif
            {
                (void)v;
                if (isnan(d) || isinf(d))
                    *refusal = not_finite;
                lua_pushnumber(L, (lua_Number)d);
            }
            lua_rawseti(L, -2, (int)++count);
        }
    }
    if (shape != 1) {
        luaL_getmetatable(L, LC_ARRAY_MT); /* as the decoder marks arrays, so [] stays [] */
        lua_setmetatable(L, -2);
    }
}

static void check(const uint8_t *data, size_t size)
{
    static const int indents[] = {0, 0, 2, 4};
    int top, value, shape, indent;
    const char *refusal;

    if (size == 0)
        return;
    shape = data[0] % 5;
    indent = indents[data[0] / 5 % 4];
    top = lua_gettop(L);
    push_value(shape, data + 1, size - 1, &refusal);
    value = lua_gettop(L);

    push_encoded(L, value, indent);
    if (lua_isnil(L, -2)) {
        const char *msg = lua_tostring(L, -1);

        if (refusal == NULL || msg == NULL || strcmp(msg, refusal) != 0)
            abort(); /* refused something JSON can hold, or with the wrong reason */
        lua_settop(L, top);
        return;
    }
    if (refusal != NULL)
        abort(); /* wrote a value JSON cannot hold */
    lua_pop(L, 1);
    assert_decodes_to(L, value);
    lua_settop(L, top);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    L = fuzz_state();
    check(data, size);
    fuzz_collect(L);
    return 0;
}
