/* utf8.h — the one UTF-8 validator, shared by the decoder (strings in JSON text) and the encoder
 * (strings of Lua values): strict RFC 3629, so overlong forms, surrogates (U+D800-U+DFFF) and
 * code points above U+10FFFF are invalid. */
#ifndef LEADCONDUIT_UTF8_H
#define LEADCONDUIT_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/* Whether the three bytes at p are a three-byte sequence that needs no look at its second byte's
 * range: a first byte of E1 to EC or EE to EF (after E0 and ED the range is narrower, against
 * overlong forms and surrogates), then two continuation bytes. */
static inline int lc_utf8_plain_three(const unsigned char *p)
{
    uint16_t next;

    memcpy(&next, p + 1, 2);
    return (unsigned)(p[0] - 0xE1) <= 0xEF - 0xE1 && p[0] != 0xED && (next & 0xC0C0) == 0x8080;
}

#ifdef __SSE2__
/* How many of the five three-byte slots of the 16 bytes at p, from the first, hold a sequence
 * that lc_utf8_plain_three accepts: every byte is classed in one block, and the classes are
 * compared with those of five such sequences (lead, continuation, continuation, ...). */
static inline int lc_utf8_plain_threes_block(const unsigned char *p)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m128i e_lead =
        _mm_cmpeq_epi8(_mm_and_si128(v, _mm_set1_epi8((char)0xF0)), _mm_set1_epi8((char)0xE0));
    const __m128i narrower = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xE0)),
                                          _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xED)));
    /* signed: 0x80 to 0xBF are the bytes below (char)0xC0, and ASCII is not negative */
    const __m128i continuation = _mm_cmplt_epi8(v, _mm_set1_epi8((char)0xC0));
    unsigned leads = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(narrower, e_lead));
    unsigned follows = (unsigned)_mm_movemask_epi8(continuation);
    /* bit i set: byte i is not what five sequences have there; bit 15 ends the count */
    unsigned wrong = (leads ^ 0x1249u) | (follows ^ 0x6DB6u) | 0x8000u;

    return __builtin_ctz(wrong) / 3;
}
#endif

/* The bytes of the three-byte sequences from p on that lc_utf8_plain_three accepts: up to five of
 * them in one block where 16 bytes are left, else one or none. */
static inline int lc_utf8_plain_threes(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    if (end - p >= 16)
        return 3 * lc_utf8_plain_threes_block(p);
#endif
    return end - p >= 3 && lc_utf8_plain_three(p) ? 3 : 0;
}

/* The end of the run of valid UTF-8 sequences from p, whose first byte is >= 0x80: the first
 * byte from p on that is ASCII, or `end`, or the first byte of a sequence that is not valid (its
 * byte >= 0x80 tells the caller). Text that is not ASCII is nearly all three-byte sequences
 * (CJK), which lc_utf8_plain_threes takes several at a time, where lc_utf8_length would take each
 * with a dozen tests; lc_utf8_length takes the rest. */
static inline const unsigned char *lc_utf8_run(const unsigned char *p, const unsigned char *end)
{
    while (p < end && *p >= 0x80) {
        int n;

#ifdef __SSE2__
        /* Five sequences in a block: the next block starts 15 bytes on, a constant, so that
         * its load need not wait for this block's count to be worked out. (Left to the steps
         * below, each block's load waits for the count of the one before.) */
        while (end - p >= 16 && lc_utf8_plain_threes_block(p) == 5)
            p += 15;
#endif
        n = lc_utf8_plain_threes(p, end);
        if (n == 0 && (n = lc_utf8_length(p, end)) == 0)
            break;
        p += n;
    }
    return p;
}

#endif
