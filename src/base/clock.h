/* clock.h — the two clocks detour reads: monotonic for deadlines, wall for status pages. */
#ifndef DETOUR_CLOCK_H
#define DETOUR_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC; all deadlines and timers use this. */
uint64_t clock_now_ms(void);

/* Milliseconds since the Unix epoch. */
uint64_t clock_wall_ms(void);

/* Writes wall time ms as ISO 8601 UTC ("2026-11-23T08:40:01.123Z") into out
 * (at least 25 bytes). Returns out. */
char *clock_iso8601(uint64_t wall_ms, char *out, size_t outlen);

/* The wall time at which monotonic time mono_ms happens (or happened). */
uint64_t clock_mono_to_wall(uint64_t mono_ms);

#endif
