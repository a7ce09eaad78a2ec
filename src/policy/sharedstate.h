/* sharedstate.h — what instances tell each other about a breaker, said as one line of text, and how a remote state merges into a local breaker; pure, the clock is the caller's. */
#ifndef DETOUR_SHAREDSTATE_H
#define DETOUR_SHAREDSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "breaker.h"

/* The longest instance name and upstream name a message carries. */
#define SHAREDSTATE_NAME_MAX 128
/* The longest encoded line. */
#define SHAREDSTATE_LINE_MAX 512

/*
 * One instance's breaker for one upstream, in durations from the moment it was
 * said rather than clock readings, so hosts whose clocks differ agree.
 */
struct sharedstate {
	char instance[SHAREDSTATE_NAME_MAX]; /* who said it */
	char upstream[SHAREDSTATE_NAME_MAX];
	bool operator_choice;        /* an operator's POST /admin/circuits: the mode is applied as it is */
	enum breaker_state state;
	enum breaker_mode mode;
	uint64_t retry_in_ms;        /* open: until it may half-open */
	uint64_t hold_in_ms;         /* a Retry-After pause still running; 0: none */
	uint64_t cooldown_ms;        /* the current (grown) cooldown */
};

/* What b says now, for instance and upstream. */
void sharedstate_describe(struct breaker *b, uint64_t now, const char *instance, const char *upstream,
			  bool operator_choice, struct sharedstate *out);

/* Writes s as one line ("B instance upstream state mode retry_in hold_in cooldown op") into out.
 * Returns its length, or -1 when it does not fit. */
int sharedstate_encode(const struct sharedstate *s, char *out, size_t outlen);

/* Reads a line from sharedstate_encode. Returns 0, or -1 when it is not one. */
int sharedstate_decode(const char *line, size_t len, struct sharedstate *out);

/*
 * Applies a remote state to the local breaker b at now. An operator's choice
 * sets the mode, whatever b was. Otherwise a breaker in a forced mode (here or
 * there) keeps it; a remote open opens b (or pushes its retry later), a remote
 * half-open lets b half-open now, a remote close (a probe passed there) closes
 * b; a remote hold extends b's. Probes b has in flight stay counted. Returns
 * true when b's state, mode or timers changed.
 */
bool sharedstate_merge(struct breaker *b, const struct sharedstate *s, uint64_t now);

/* How long a key holding s should live for a late joiner: until its open state
 * and its hold are over (plus a cooldown); 0 for a forced mode (no expiry). */
uint64_t sharedstate_key_ttl(const struct sharedstate *s);

#endif
