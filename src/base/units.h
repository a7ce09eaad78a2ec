/* units.h — durations ("250ms", "30s", "5m", "1h") and sizes ("512KiB", "4MiB") as the configuration writes them. */
#ifndef DETOUR_UNITS_H
#define DETOUR_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a whole number: digits only, at most max. Returns 0 and stores it in
 * *out; -1 when text is not digits only; -2 when the digits pass max (found
 * before any non-digit). *out is untouched on failure.
 */
int units_parse_uint(const char *text, uint64_t max, uint64_t *out);

/*
 * Parses a duration: a whole number followed by ms, s, m or h ("0" alone is
 * allowed). Returns 0 and stores milliseconds in *ms, or -1 when text is not a
 * duration or overflows; *ms is then untouched.
 */
int units_parse_duration(const char *text, uint64_t *ms);

/*
 * Parses a size: a whole number of bytes, optionally followed by B, KiB, MiB or
 * GiB (KB, MB, GB are accepted as the same powers of 1024). Returns 0 and
 * stores bytes in *bytes, or -1 when text is not a size or overflows.
 */
int units_parse_size(const char *text, size_t *bytes);

#endif
