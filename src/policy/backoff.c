/* backoff.c — how long to wait before a retry (exponential, full jitter) and whether the daemon-wide retry budget allows one. */
#include "backoff.h"

uint64_t backoff_delay(uint64_t base_delay_ms, uint64_t max_delay_ms, unsigned n, uint64_t random)
{
	uint64_t ceiling = base_delay_ms;
	unsigned i;

	/* Doubling stops at the cap, so large n cannot overflow. */
	for (i = 0; i < n && ceiling < max_delay_ms; i++)
		ceiling *= 2;
	if (ceiling > max_delay_ms)
		ceiling = max_delay_ms;
	return random % (ceiling + 1);
}

bool backoff_budget_allows(uint64_t requests_active, uint64_t retries_active)
{
	uint64_t limit = requests_active * BACKOFF_BUDGET_PERCENT / 100;

	if (limit < BACKOFF_BUDGET_MIN)
		limit = BACKOFF_BUDGET_MIN;
	return retries_active < limit;
}
