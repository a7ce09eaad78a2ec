/* attempts.h — what each target of an exchange did, and the OpenAI-shaped error built from it when all failed. */
#ifndef DETOUR_ATTEMPTS_H
#define DETOUR_ATTEMPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* More attempts than this are counted but not listed. */
#define ATTEMPTS_MAX 32
/* Listed without an allocation: nearly every exchange makes one call, and an
 * exchange per open stream should stay small; past it the list doubles on
 * the heap (2, 4, ... ATTEMPTS_MAX), so a stream that fell over once does not
 * hold room for 32. */
#define ATTEMPTS_INLINE 1

struct attempt {
	const char *upstream;   /* borrowed from the configuration */
	unsigned status;        /* 0 when no HTTP status came back */
	char error[160];        /* short, key-free words; empty for a skip */
	char skipped[160];      /* non-empty: the target was not called, and why (a sentence for a refusal) */
	uint64_t ms;
	const char *level;      /* the degradation level it ran at; NULL at full */
};

struct attempts {
	struct attempt *list;  /* inline, or on the heap once more are needed */
	struct attempt inline_list[ATTEMPTS_INLINE];
	size_t cap;      /* room in list */
	size_t n;        /* listed */
	size_t tries;    /* calls made, listed or not */
	size_t skips;    /* targets passed over without a call */
	size_t rate_limited; /* calls that failed with a 429 */
	size_t held;     /* of the skips, those for a Retry-After hold */
	const char *level; /* given to the attempts added from now on; NULL: full */
};

/* a must not move while in use (list may point inside it). */
void attempts_init(struct attempts *a);

/* Frees what the list took from the heap and empties it. */
void attempts_free(struct attempts *a);

/* The degradation level of the attempts added from now on (NULL: full). */
void attempts_set_level(struct attempts *a, const char *level);

/* Records a call that failed. error is copied and cut to fit. */
void attempts_add_failure(struct attempts *a, const char *upstream, unsigned status,
			  const char *error, uint64_t ms);

/* Records a call that succeeded or whose answer went back to the client. */
void attempts_add_answer(struct attempts *a, const char *upstream, unsigned status, uint64_t ms);

/* Records a target passed over without a call. */
void attempts_add_skip(struct attempts *a, const char *upstream, const char *reason);

/* Records a target passed over because it asked for a pause (Retry-After) that still runs. */
void attempts_add_held(struct attempts *a, const char *upstream, const char *reason);

/* The kinds of final error an exchange can end with. */
enum attempts_verdict {
	ATTEMPTS_ALL_FAILED,     /* 502: every target that was called failed */
	ATTEMPTS_ALL_SKIPPED,    /* 503: no target could be called */
	ATTEMPTS_DEADLINE,       /* 504: request_timeout passed first */
	ATTEMPTS_RATE_LIMITED,   /* 429: every target answered 429 or was held by its Retry-After */
};

/*
 * The verdict on an exchange that no target answered: the deadline when it
 * passed; a rate limit when every call failed with a 429 and every skip was
 * a Retry-After hold (so the client can wait, as for the upstream itself);
 * all skipped when no call was made; else all failed.
 */
enum attempts_verdict attempts_verdict(const struct attempts *a, bool past_deadline);

/* The HTTP status of a verdict. */
unsigned attempts_status(enum attempts_verdict verdict);

/*
 * The wait a client is told in Retry-After (whole *seconds, rounded up) and
 * retry-after-ms (*ms) when a target takes calls again at earliest_ms, seen
 * at now_ms (one clock): at least 1 s, and 1000 ms when earliest_ms has come
 * already or is unknown (0), the least Retry-After can say. cap_ms > 0 caps
 * both (a cap under 1 s still says 1 s in Retry-After).
 */
void attempts_retry_after(uint64_t earliest_ms, uint64_t now_ms, uint64_t cap_ms, uint64_t *seconds, uint64_t *ms);

/*
 * Appends to out the body of the error that lists the attempts (README, "Honest errors"):
 * {"error":{"message":..., "type":"upstream_error", "code":..., "attempts":[...]}};
 * a rate limit is type "rate_limit_error", code "rate_limit_exceeded".
 * Returns 0, or -1 when out is full.
 */
int attempts_error_json(const struct attempts *a, enum attempts_verdict verdict, const char *model,
			uint64_t request_timeout_ms, struct buf *out);

/*
 * Appends to out the 400 for a request no target could be sent (the client's
 * mistake): {"error":{"message":message, "type":"invalid_request_error",
 * "param":param (null when NULL or ""), "code":null, "attempts":[...]}}.
 * Returns 0, or -1 when out is full.
 */
int attempts_refusal_json(const struct attempts *a, const char *message, const char *param, struct buf *out);

#endif
