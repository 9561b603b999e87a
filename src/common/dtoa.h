//  dtoa.h - shortest round-trip double-to-text, laid out like printf's %g
//  SPDX-License-Identifier: MIT
//
//  wbi_dtoa() writes the shortest decimal that strtod() reads back to exactly
//  the same double (Ryu), in the layout of printf("%.*g", P, d) with
//  P = max(digits, 15): the precision the old snprintf loop of
//  wbi_jsonx_put_double used, so its text is byte-identical whenever that
//  loop found the shortest digits. No locale, no allocation, no state.
//  Thread: any.
#ifndef WBI_DTOA_H
#define WBI_DTOA_H

#include <stddef.h>

// Bytes wbi_dtoa() may write, NUL included (the longest text is 24 bytes).
#define WBI_DTOA_BUFSIZE 32

// Writes the shortest decimal text of d that reads back to exactly d, NUL-
// terminated, into out (WBI_DTOA_BUFSIZE bytes), and returns its length.
// Digits: the fewest significant digits of any decimal inside d's rounding
// interval; among those, the one nearest d (ties to even digit). Layout as
// %g with precision P = max(digits, 15): plain ("0.1", "100", "-0") when the
// leading digit's exponent X satisfies -4 <= X < P, else "1.5e-07" /
// "1e+21" (sign, at least two exponent digits). The text is a valid JSON
// number. d must be finite; NaN and infinities are written as "NaN",
// "Infinity" and "-Infinity" (not JSON). Thread: any.
size_t wbi_dtoa(double d, char *out);

#endif
