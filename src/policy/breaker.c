/* breaker.c — one upstream's circuit breaker: a pure three-state machine driven by a clock given as an argument. */
#include "breaker.h"

#include <string.h>

void breaker_init(struct breaker *b, const struct config_breaker *cfg)
{
	memset(b, 0, sizeof *b);
	b->cfg = *cfg;
	if (b->cfg.failures == 0)
		b->cfg.failures = 1;
	if (b->cfg.failures > BREAKER_MAX_FAILURES)
		b->cfg.failures = BREAKER_MAX_FAILURES;
	if (b->cfg.half_open_probes == 0)
		b->cfg.half_open_probes = 1;
	b->state = BREAKER_CLOSED;
	b->mode = BREAKER_AUTO;
	b->cooldown_ms = b->cfg.cooldown_ms;
}

void breaker_carry(struct breaker *b, const struct breaker *from)
{
	struct config_breaker cfg = b->cfg;
	uint64_t cap = cfg.cooldown_ms * BREAKER_MAX_COOLDOWNS;

	*b = *from;
	b->cfg = cfg;
	b->probes = 0;
	if (b->state == BREAKER_CLOSED || b->cooldown_ms < cfg.cooldown_ms)
		b->cooldown_ms = cfg.cooldown_ms;
	else if (b->cooldown_ms > cap)
		b->cooldown_ms = cap;
}

static uint64_t breaker_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

unsigned breaker_failures_in_window(const struct breaker *b, uint64_t now)
{
	unsigned i, n = 0;

	for (i = 0; i < b->nfailures; i++) {
		uint64_t at = b->failures[i];

		if (at + b->cfg.window_ms > now)
			n++;
	}
	return n;
}

static void breaker_forget(struct breaker *b)
{
	b->nfailures = 0;
	b->head = 0;
	b->consecutive = 0;
}

static void breaker_open(struct breaker *b, uint64_t now, int64_t retry_after_ms)
{
	uint64_t wait = b->cooldown_ms;

	if (retry_after_ms > 0)
		wait = breaker_max(wait, (uint64_t)retry_after_ms);
	b->state = BREAKER_OPEN;
	b->opened_at_ms = now;
	b->retry_at_ms = now + wait;
	b->probes = 0;
	b->early_at_ms = now + BREAKER_EARLY_GAP_MS;
}

static void breaker_close(struct breaker *b)
{
	b->state = BREAKER_CLOSED;
	b->cooldown_ms = b->cfg.cooldown_ms;
	b->probes = 0;
	breaker_forget(b);
}

enum breaker_state breaker_state(struct breaker *b, uint64_t now)
{
	/* An early probe in flight stays counted: it is the half-open probe. */
	if (b->state == BREAKER_OPEN && b->mode == BREAKER_AUTO && now >= b->retry_at_ms)
		b->state = BREAKER_HALF_OPEN;
	return b->state;
}

enum breaker_admission breaker_admit(struct breaker *b, uint64_t now, enum breaker_reason *why)
{
	*why = BREAKER_REASON_NONE;
	if (b->mode == BREAKER_FORCED_OPEN) {
		*why = BREAKER_REASON_FORCED;
		return BREAKER_REJECT;
	}
	if (b->mode == BREAKER_FORCED_CLOSED)
		return BREAKER_PASS;
	if (now < b->hold_until_ms) {
		*why = BREAKER_REASON_RETRY_AFTER;
		return BREAKER_REJECT;
	}
	switch (breaker_state(b, now)) {
	case BREAKER_CLOSED:
		return BREAKER_PASS;
	case BREAKER_OPEN:
		*why = BREAKER_REASON_OPEN;
		return BREAKER_REJECT;
	case BREAKER_HALF_OPEN:
		if (b->probes >= b->cfg.half_open_probes) {
			*why = BREAKER_REASON_PROBING;
			return BREAKER_REJECT;
		}
		b->probes++;
		return BREAKER_PROBE;
	}
	return BREAKER_REJECT;
}

enum breaker_admission breaker_admit_early(struct breaker *b, uint64_t now)
{
	bool refused = now < b->hold_until_ms || breaker_state(b, now) != BREAKER_CLOSED;

	if (b->mode != BREAKER_AUTO || !refused || b->probes > 0 || now < b->early_at_ms)
		return BREAKER_REJECT;
	b->early_at_ms = now + BREAKER_EARLY_GAP_MS;
	b->probes++;
	return BREAKER_PROBE;
}

static void breaker_probe_done(struct breaker *b, bool was_probe)
{
	if (was_probe && b->probes > 0)
		b->probes--;
}

void breaker_success(struct breaker *b, uint64_t now, bool was_probe)
{
	(void)now;
	breaker_probe_done(b, was_probe);
	b->consecutive = 0;
	/* Only a probe's verdict closes a breaker: a call that began before it
	 * opened says nothing about the upstream now. An early probe went through
	 * an open breaker or a hold; its answer says the upstream is back. */
	if (!was_probe || b->mode != BREAKER_AUTO)
		return;
	b->hold_until_ms = 0;
	if (b->state != BREAKER_CLOSED)
		breaker_close(b);
}

/* Counts a failure in the window; opens a closed breaker that reached its limit. */
static void breaker_count(struct breaker *b, uint64_t now, int64_t retry_after_ms)
{
	b->failures[b->head] = now;
	b->head = (b->head + 1) % b->cfg.failures;
	if (b->nfailures < b->cfg.failures)
		b->nfailures++;
	b->consecutive++;
	if (b->state == BREAKER_CLOSED && b->mode == BREAKER_AUTO &&
	    breaker_failures_in_window(b, now) >= b->cfg.failures)
		breaker_open(b, now, retry_after_ms);
}

void breaker_failure(struct breaker *b, uint64_t now, bool was_probe, int64_t retry_after_ms)
{
	breaker_probe_done(b, was_probe);
	b->early_at_ms = breaker_max(b->early_at_ms, now + BREAKER_EARLY_GAP_MS);
	if (retry_after_ms > 0)
		b->hold_until_ms = breaker_max(b->hold_until_ms, now + (uint64_t)retry_after_ms);
	if (b->state == BREAKER_HALF_OPEN && was_probe && b->mode == BREAKER_AUTO) {
		uint64_t cap = b->cfg.cooldown_ms * BREAKER_MAX_COOLDOWNS;

		b->consecutive++;
		b->cooldown_ms = b->cooldown_ms * 2 > cap ? cap : b->cooldown_ms * 2;
		breaker_open(b, now, retry_after_ms);
		return;
	}
	breaker_count(b, now, retry_after_ms);
}

void breaker_abandon(struct breaker *b, bool was_probe)
{
	breaker_probe_done(b, was_probe);
}

void breaker_health(struct breaker *b, uint64_t now, bool ok)
{
	if (!ok) {
		breaker_count(b, now, -1);
		return;
	}
	if (b->mode != BREAKER_AUTO)
		return;
	/* Half-open already: the check is the verdict a probe would give. */
	if (breaker_state(b, now) == BREAKER_HALF_OPEN)
		breaker_close(b);
	else if (b->state == BREAKER_OPEN && now < b->retry_at_ms)
		b->retry_at_ms = now;
}

void breaker_set_mode(struct breaker *b, enum breaker_mode mode, uint64_t now)
{
	b->mode = mode;
	if (mode == BREAKER_FORCED_OPEN) {
		b->state = BREAKER_OPEN;
		b->opened_at_ms = now;
		b->retry_at_ms = 0;
	} else {
		breaker_close(b);
		b->hold_until_ms = 0;
	}
}

uint64_t breaker_next_admission(struct breaker *b, uint64_t now)
{
	uint64_t at = 0;

	if (b->mode == BREAKER_FORCED_OPEN)
		return 0;
	if (breaker_state(b, now) == BREAKER_OPEN)
		at = b->retry_at_ms;
	else if (b->state == BREAKER_HALF_OPEN)
		at = now + 1000; /* probes are out; their verdict is near */
	return breaker_max(at, b->hold_until_ms);
}

const char *breaker_state_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED: return "closed";
	case BREAKER_OPEN: return "open";
	case BREAKER_HALF_OPEN: return "half_open";
	}
	return "unknown";
}

const char *breaker_mode_name(enum breaker_mode m)
{
	switch (m) {
	case BREAKER_AUTO: return "auto";
	case BREAKER_FORCED_OPEN: return "open";
	case BREAKER_FORCED_CLOSED: return "closed";
	}
	return "unknown";
}

const char *breaker_reason_text(enum breaker_reason r)
{
	switch (r) {
	case BREAKER_REASON_NONE: return "";
	case BREAKER_REASON_OPEN: return "circuit open";
	case BREAKER_REASON_PROBING: return "circuit half-open, probe in flight";
	case BREAKER_REASON_FORCED: return "circuit forced open";
	case BREAKER_REASON_RETRY_AFTER: return "retry-after pause";
	}
	return "";
}
