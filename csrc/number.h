/* number.h — JSON number literals: the grammar and the conversion to a value.
 *
 * Lua-independent, like lua-cjson's fpconv: decode.c calls lc_number_parse() where a number
 * starts and pushes what it returns; encode.c borrows the C locale for printing. */
#ifndef LEADCONDUIT_NUMBER_H
#define LEADCONDUIT_NUMBER_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

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

/* The commonest literal, read inline by the decoder: a non-negative integer of up to 9 digits (an
 * id, a count, a size), which needs none of lc_number_parse's cases. Returns the byte after it
 * with *value set, or NULL for any other literal (lc_number_parse reads those, errors included). */
static inline const unsigned char *lc_small_integer(const unsigned char *p, const unsigned char *end,
                                                    int32_t *value)
{
    const unsigned char *last = end - p > 9 ? p + 9 : end; /* where a 10th digit would be */
    unsigned digit = (unsigned)(*p - '0');
    int32_t v = (int32_t)digit;

    if (digit > 9)
        return NULL;
    if (*p++ != '0')
        while (p < last && (digit = (unsigned)(*p - '0')) < 10) {
            v = v * 10 + (int32_t)digit;
            p++;
        }
    if (p < end && ((unsigned)(*p - '0') < 10 || *p == '.' || (*p | 0x20) == 'e'))
        return NULL;
    *value = v;
    return p;
}

/* The "C" locale, created once per process and shared (never freed); (locale_t)0 when it
 * cannot be created. For conversions a user's setlocale must not change. */
locale_t lc_c_locale(void);

#endif
