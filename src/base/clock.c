/* clock.c — the two clocks detour reads: monotonic for deadlines, wall for status pages. */
#include "clock.h"

#include <stdio.h>
#include <time.h>

static uint64_t clock_read(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t clock_now_ms(void)
{
	return clock_read(CLOCK_MONOTONIC);
}

uint64_t clock_wall_ms(void)
{
	return clock_read(CLOCK_REALTIME);
}

uint64_t clock_mono_to_wall(uint64_t mono_ms)
{
	uint64_t now = clock_now_ms();
	uint64_t wall = clock_wall_ms();

	return mono_ms >= now ? wall + (mono_ms - now) : wall - (now - mono_ms);
}

char *clock_iso8601(uint64_t wall_ms, char *out, size_t outlen)
{
	time_t secs = (time_t)(wall_ms / 1000u);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(wall_ms % 1000u));
	return out;
}
