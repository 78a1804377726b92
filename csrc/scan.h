/* scan.h — the decoder's byte scanners: whitespace between tokens and the plain runs of strings.
 *
 * They look at whole blocks at a time (SSE2, or 8-byte SWAR words elsewhere) and find the first
 * byte of interest from its bit in a mask, not with a byte loop. Static inline: they run once per
 * token, and a call would cost more than the scan of a short run. decode.c owns the grammar. */
#ifndef LEADCONDUIT_SCAN_H
#define LEADCONDUIT_SCAN_H

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "compat.h"

/* Byte classes inside strings. Computed, not tabled: no table to initialize at run time, so
 * nothing is shared between threads. */
enum { LC_PLAIN, LC_QUOTE, LC_BACKSLASH, LC_CONTROL, LC_HIGH };

LC_ALWAYS_INLINE int lc_string_class(unsigned char c)
{
    if (c == '"')
        return LC_QUOTE;
    if (c == '\\')
        return LC_BACKSLASH;
    return c < 0x20 ? LC_CONTROL : c >= 0x80 ? LC_HIGH : LC_PLAIN;
}

/* Whitespace from p on. Pretty-printed documents put a newline and a run of indentation between
 * tokens (they can be mostly spaces): a block of 16 tests all four whitespace bytes at once, so
 * that a gap of up to 15 bytes costs one block whatever it holds. */
static inline const unsigned char *lc_skip_ws_run(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    const __m128i space = _mm_set1_epi8(' '), nl = _mm_set1_epi8('\n');
    const __m128i cr = _mm_set1_epi8('\r'), tab = _mm_set1_epi8('\t');

    /* A newline and then spaces, as pretty-printers indent: a block tests for spaces alone, and
     * where the run ends at a token (a byte above ' ') that is all; a tab, a CR or a blank line
     * goes on below from where the spaces stop. */
    if (*p == '\n') {
        p++;
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, space));

            if (mask != 0xFFFF) {
                p += __builtin_ctz(~mask);
                if (' ' < *p)
                    return p;
                break;
            }
            p += 16;
        }
    }
    while (end - p >= 16) { /* any whitespace */
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i ws = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, space), _mm_cmpeq_epi8(v, nl)),
                                  _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, tab)));
        unsigned mask = (unsigned)_mm_movemask_epi8(ws);

        if (mask != 0xFFFF)
            return p + __builtin_ctz(~mask);
        p += 16;
    }
#endif
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* Whitespace between tokens: compact documents have none, pretty-printed ones one space after
 * each colon, and the inline tests answer both without a call. They need no test of the end:
 * the text is followed by a NUL byte (see lc_decode_buffer), which stops them like any byte
 * that is not whitespace, and the run stops at `end`. p <= end. */
LC_ALWAYS_INLINE const unsigned char *lc_skip_ws(const unsigned char *p, const unsigned char *end)
{
    if (' ' < *p)
        return p;
    if (*p == ' ' && ' ' < p[1])
        return p + 1;
    return lc_skip_ws_run(p, end);
}

#define LC_ONES 0x0101010101010101ULL
#define LC_HIGHS 0x8080808080808080ULL

/* Skip to the first byte of [p, end) that needs a look: < 0x20, '"', '\\' or >= 0x80, or to
 * `end`. */
static inline const unsigned char *lc_skip_plain(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);

    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too */
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                   _mm_cmplt_epi8(v, space));
        int mask = _mm_movemask_epi8(hit);

        if (mask != 0)
            return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (end - p >= 8) {
        uint64_t v, quote, bslash, mask;

        memcpy(&v, p, 8);
        quote = v ^ (LC_ONES * '"');
        bslash = v ^ (LC_ONES * '\\');
        /* exact for the lowest flagged byte, which is all we use (little-endian) */
        mask = ((v - LC_ONES * 0x20) & ~v) | ((quote - LC_ONES) & ~quote) | ((bslash - LC_ONES) & ~bslash);
        mask = (mask | v) & LC_HIGHS; /* v: bytes >= 0x80 */
        if (mask != 0) {
#ifdef LC_LITTLE_ENDIAN_WORDS
            return p + (__builtin_ctzll(mask) >> 3);
#else
            break; /* the flagged byte is in this word: the byte loop below finds it */
#endif
        }
        p += 8;
    }
    while (p < end && lc_string_class(*p) == LC_PLAIN)
        p++;
    return p;
}

#endif
