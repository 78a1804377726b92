/* number.h — JSON number literals: the grammar and the conversion to a value.
 *
 * No Lua calls, like lua-cjson's fpconv (compat.h is here for its two compiler macros): decode.c
 * calls lc_number_parse() where a number starts and pushes what it returns; encode.c borrows the
 * C locale for printing. */
#ifndef LEADCONDUIT_NUMBER_H
#define LEADCONDUIT_NUMBER_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "compat.h" /* LC_ALWAYS_INLINE, LC_LITTLE_ENDIAN_WORDS */

typedef struct {
    int is_integer;    /* an integer literal that fits int64_t (Lua 5.3+ pushes it as one) */
    int64_t integer;   /* its value, when is_integer */
    double value;      /* otherwise: the correctly rounded double */
    const char *error; /* set when the literal is malformed (at error_at) or memory ran out */
    const unsigned char *error_at;
    int out_of_memory; /* the error is not the input's: the caller should raise */
} lc_number;

/* Read the number literal -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at p (p < end, *p a
 * digit or '-'). Returns the byte after it with is_integer and integer or value set, or NULL
 * with error, error_at and out_of_memory set. */
const unsigned char *lc_number_parse(const unsigned char *p, const unsigned char *end, lc_number *n);

/* Whether the byte c is an ASCII digit. */
#define LC_IS_DIGIT(c) ((unsigned)((c) - '0') < 10u)

#ifdef LC_LITTLE_ENDIAN_WORDS
/* Digits 8 at a time, in one word read from memory (little-endian: the first byte lowest), for
 * lc_small_integer and number.c's runs of digits. */
#define LC_DIGITS_IN_WORDS 1
#define LC_ZEROS 0x3030303030303030ULL /* '0' in every byte */

/* The bytes of `chunk` that are not ASCII digits, as the nonzero bytes of the result: a digit's
 * high nibble is 3 and stays 3 when 6 is added, where ':' to '?' (0x3A-0x3F), the other bytes
 * whose high nibble is 3, go to 4. A carry out of a byte (0xFA and up) can change only the bytes
 * after it, which come after a non-digit. */
static inline uint64_t lc_non_digit_bytes(uint64_t chunk)
{
    return ((chunk & 0xF0F0F0F0F0F0F0F0ULL) |
            (((chunk + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) ^
           0x3333333333333333ULL;
}

/* Value of 8 digits already less '0' each, the first in the lowest byte: combined pairwise in
 * one register. */
static inline uint64_t lc_combine_digits(uint64_t v)
{
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFULL;
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFULL;
    return (v * 10000 + (v >> 32)) & 0xFFFFFFFFULL;
}

/* How many of the bytes of `chunk`, from the first, are digits: 0 to 8. */
static inline int lc_leading_digits(uint64_t chunk)
{
    uint64_t not_digit = lc_non_digit_bytes(chunk);

    return not_digit == 0 ? 8 : __builtin_ctzll(not_digit) >> 3;
}

/* Value of the first n digits of `chunk`, 0 < n <= 8: moved to the top, with zero digits before
 * them. */
static inline uint64_t lc_leading_value(uint64_t chunk, int n)
{
    return lc_combine_digits((chunk - LC_ZEROS) << (8 * (8 - n)));
}
#endif

/* Whether an integer's digits end at p: no digit, fraction or exponent follows. */
static inline int lc_integer_ends(const unsigned char *p, const unsigned char *end)
{
    return p == end || !(LC_IS_DIGIT(*p) || *p == '.' || (*p | 0x20) == 'e');
}

/* The commonest literal, read inline by the decoder: a non-negative integer of up to 9 digits (an
 * id, a count, a size), which needs none of lc_number_parse's cases. Returns the byte after it
 * with *value set, or NULL for any other literal (lc_number_parse reads those, errors included).
 * Where 8 bytes are left, their digits are found and read as one word, not one digit at a time
 * (ids are often 9 digits), and only once the literal is known to be such an integer (a fraction
 * pays for none of it). */
static inline const unsigned char *lc_small_integer(const unsigned char *p, const unsigned char *end,
                                                    int32_t *value)
{
    if (!LC_IS_DIGIT(*p)) /* '-' */
        return NULL;
#ifdef LC_DIGITS_IN_WORDS
    if (end - p >= 8) {
        uint64_t chunk;
        int n, ninth;
        uint32_t v;

        memcpy(&chunk, p, 8);
        n = lc_leading_digits(chunk); /* 1 to 8: *p is a digit */
        if (n > 1 && *p == '0')       /* a leading zero: lc_number_parse tells the error */
            return NULL;
        p += n;
        ninth = n == 8 && p < end && LC_IS_DIGIT(*p);
        if (!lc_integer_ends(p + ninth, end))
            return NULL;
        v = (uint32_t)lc_leading_value(chunk, n);
        *value = (int32_t)(ninth ? v * 10 + (uint32_t)(*p - '0') : v);
        return p + ninth;
    }
#endif
    {
        const unsigned char *last = end - p > 9 ? p + 9 : end; /* where a 10th digit would be */
        int32_t v = *p - '0';

        if (*p++ != '0')
            while (p < last && LC_IS_DIGIT(*p))
                v = v * 10 + (*p++ - '0');
        if (!lc_integer_ends(p, end))
            return NULL;
        *value = v;
        return p;
    }
}

/* The "C" locale, created once per process and shared (never freed); (locale_t)0 when it
 * cannot be created. For conversions a user's setlocale must not change. */
locale_t lc_c_locale(void);

#endif
