/* breaker.h — one upstream's circuit breaker: a pure three-state machine driven by a clock given as an argument. */
#ifndef DETOUR_BREAKER_H
#define DETOUR_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* The sliding window remembers at most this many failures (config caps breaker.failures). */
#define BREAKER_MAX_FAILURES 1000

/* How far a repeatedly failing upstream's cooldown may grow, in cooldowns. */
#define BREAKER_MAX_COOLDOWNS 10

/* An early probe (breaker_admit_early) goes at most this often, and never
 * sooner than this after the upstream's last fault: during a total outage an
 * upstream sees about one call a second, whatever the request rate. */
#define BREAKER_EARLY_GAP_MS 1000

enum breaker_state {
	BREAKER_CLOSED,    /* traffic flows; failures are counted */
	BREAKER_OPEN,      /* no traffic until retry_at */
	BREAKER_HALF_OPEN, /* a few probes may go; their verdict closes or reopens it */
};

enum breaker_mode {
	BREAKER_AUTO,          /* the state machine decides */
	BREAKER_FORCED_OPEN,   /* an operator took the upstream out */
	BREAKER_FORCED_CLOSED, /* an operator keeps it in, whatever happens */
};

/* What breaker_admit says about one call. */
enum breaker_admission {
	BREAKER_PASS,      /* call it */
	BREAKER_PROBE,     /* call it as a half-open probe; report its verdict with was_probe */
	BREAKER_REJECT,    /* skip it */
};

/* Why a call was rejected, for the attempts list. */
enum breaker_reason {
	BREAKER_REASON_NONE,
	BREAKER_REASON_OPEN,        /* "circuit open" */
	BREAKER_REASON_PROBING,     /* half-open, its probes already out */
	BREAKER_REASON_FORCED,      /* "circuit forced open" */
	BREAKER_REASON_RETRY_AFTER, /* the upstream asked for a pause */
};

struct breaker {
	struct config_breaker cfg;
	enum breaker_state state;
	enum breaker_mode mode;
	uint64_t failures[BREAKER_MAX_FAILURES]; /* ring of failure times */
	unsigned nfailures;
	unsigned head;                 /* next slot of the ring */
	unsigned consecutive;          /* failures since the last success */
	uint64_t opened_at_ms;         /* last move to open */
	uint64_t retry_at_ms;          /* open: when it may half-open */
	uint64_t cooldown_ms;          /* the current cooldown, doubled by failed probes */
	uint64_t hold_until_ms;        /* Retry-After: no calls before this, in any state */
	unsigned probes;               /* probes in flight (half-open or early) */
	uint64_t early_at_ms;          /* no early probe before this */
};

void breaker_init(struct breaker *b, const struct config_breaker *cfg);

/* After a reload: b (fresh from breaker_init with the new settings) takes
 * from's state, mode, failures and timers, so an upstream that was failing
 * stays out. The grown cooldown keeps within the new cap; probes in flight
 * stay with from (their verdicts go there). */
void breaker_carry(struct breaker *b, const struct breaker *from);

/* Moves open to half-open once retry_at has come, and returns the state. */
enum breaker_state breaker_state(struct breaker *b, uint64_t now);

/* May a call go now? A PROBE must later be reported with was_probe set
 * (breaker_success, breaker_failure or breaker_abandon). *why tells a REJECT. */
enum breaker_admission breaker_admit(struct breaker *b, uint64_t now, enum breaker_reason *why);

/*
 * May a call go now although breaker_admit refused it, because every target
 * of a request was refused? PROBE at most one in flight and one every
 * BREAKER_EARLY_GAP_MS, in auto mode only, through an open breaker or a
 * Retry-After hold; REJECT otherwise. A PROBE is reported like breaker_admit's.
 */
enum breaker_admission breaker_admit_early(struct breaker *b, uint64_t now);

/* The upstream answered and it was not its fault. A probe's success (an early
 * one included) closes the breaker and ends any Retry-After hold. */
void breaker_success(struct breaker *b, uint64_t now, bool was_probe);

/* An upstream fault (what fallback_on names). retry_after_ms >= 0 when the
 * upstream sent Retry-After: no call goes before then, and an opening breaker
 * stays open at least that long. */
void breaker_failure(struct breaker *b, uint64_t now, bool was_probe, int64_t retry_after_ms);

/* A probe ended without a verdict (the client left, detour failed). */
void breaker_abandon(struct breaker *b, bool was_probe);

/* An active health check's result: a pass while open lets it half-open at
 * once, a pass while half-open closes it; a failure counts like any failure. */
void breaker_health(struct breaker *b, uint64_t now, bool ok);

/* An operator's choice; AUTO hands the state back to the machine (closed). */
void breaker_set_mode(struct breaker *b, enum breaker_mode mode, uint64_t now);

/* Failures inside the window now. */
unsigned breaker_failures_in_window(const struct breaker *b, uint64_t now);

/* When a rejected call could next be admitted (0: unknown, e.g. forced open). */
uint64_t breaker_next_admission(struct breaker *b, uint64_t now);

const char *breaker_state_name(enum breaker_state s);
const char *breaker_mode_name(enum breaker_mode m);
const char *breaker_reason_text(enum breaker_reason r);

#endif
