/* number.h — decimal significand and exponent to a correctly rounded double.
 *
 * The JSON grammar is checked by decode.c; this unit only does the arithmetic:
 * exact fast paths for the common cases and a C-locale strtod for the rest. */
#ifndef LEADCONDUIT_NUMBER_H
#define LEADCONDUIT_NUMBER_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

/* Set *out to w * 10^q rounded to nearest, ties to even, when that can be done
 * exactly with 64/128-bit integer arithmetic (w < 2^64, |q| <= 27, or the
 * Clinger case); returns 0 when the caller must use lc_number_strtod. */
int lc_number_fast(uint64_t w, int q, double *out);

/* The "C" locale, created once per process and shared (never freed); (locale_t)0
 * when it cannot be created. For conversions a user's setlocale must not change. */
locale_t lc_c_locale(void);

/* Correctly rounded value of the NUL-terminated decimal text (the JSON number
 * grammar), independent of the process locale. Too large gives +-HUGE_VAL
 * (inf), too small +-0.0. Sets *ok to 0 when the C locale cannot be created. */
double lc_number_strtod(const char *text, int *ok);

#endif
