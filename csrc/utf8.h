/* utf8.h — the one UTF-8 validator, shared by the decoder (strings in JSON text) and the encoder
 * (strings of Lua values): strict RFC 3629, so overlong forms, surrogates (U+D800-U+DFFF) and
 * code points above U+10FFFF are invalid. */
#ifndef LEADCONDUIT_UTF8_H
#define LEADCONDUIT_UTF8_H

#include <stddef.h>

/* Length (2 to 4) of the valid UTF-8 sequence at p, whose first byte is >= 0x80, within
 * [p, end); 0 when it is not a valid sequence. */
static inline int lc_utf8_length(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF; /* the range of the second byte */
    ptrdiff_t avail = end - p;

    if (c >= 0xC2 && c <= 0xDF)
        return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0)
            lo = 0xA0; /* no overlong forms */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
        return avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0)
            lo = 0x90; /* no overlong forms */
        else if (c == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
        if (avail < 4 || p[1] < lo || p[1] > hi)
            return 0;
        return (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

#endif
