/* backoff.h — how long to wait before a retry (exponential, full jitter) and whether the daemon-wide retry budget allows one. */
#ifndef DETOUR_BACKOFF_H
#define DETOUR_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/* Retries in flight may be this share of requests in flight (Envoy's retry budget)... */
#define BACKOFF_BUDGET_PERCENT 20
/* ...but never fewer than this, so a quiet daemon can still retry. */
#define BACKOFF_BUDGET_MIN 3

/*
 * The delay before retry number n (0 for the first retry): a uniform draw in
 * [0, min(max_delay, base_delay * 2^n)], using random (any random number).
 */
uint64_t backoff_delay(uint64_t base_delay_ms, uint64_t max_delay_ms, unsigned n, uint64_t random);

/* True when one more retry fits: retries_active < max(MIN, PERCENT% of requests_active). */
bool backoff_budget_allows(uint64_t requests_active, uint64_t retries_active);

#endif
