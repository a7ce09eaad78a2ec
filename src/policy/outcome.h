/* outcome.h — what one attempt's result means for the exchange, by the rules of fallback_on. */
#ifndef DETOUR_OUTCOME_H
#define DETOUR_OUTCOME_H

#include <stdbool.h>

#include "config.h"
#include "engine.h"

enum outcome {
	OUTCOME_SUCCESS,      /* a 2xx answer: send it */
	OUTCOME_FALL_OVER,    /* an upstream fault fallback_on names: try the next target */
	OUTCOME_PASS_THROUGH, /* an HTTP answer fallback_on does not name (a 400): send it as is */
	OUTCOME_GIVE_UP,      /* a fault fallback_on does not name, with no answer to send */
};

enum outcome outcome_classify(const struct config_fallback *fb, enum engine_error error, unsigned status);

/* True when the result is the upstream's fault and should count against its
 * breaker: what fallback_on names, never a 400, 413 or 422 (the request's
 * own fault) and never detour's own failure to start a call. */
bool outcome_upstream_fault(const struct config_fallback *fb, enum engine_error error, unsigned status);

/* True when trying the same upstream again may help: a lost connection, a
 * timeout, a broken answer, 408, 409, 429 or 5xx; never 401, 403 or 404. */
bool outcome_retryable(enum engine_error error, unsigned status);

const char *outcome_name(enum outcome o);

#endif
