/* mock_clock.c — the mock's one clock: CLOCK_MONOTONIC in milliseconds, as /_mock/stats reports it. */
#include "mock_clock.h"

#include <time.h>

long long mock_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
