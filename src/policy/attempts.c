/* attempts.c — what each target of an exchange did, and the OpenAI-shaped error built from it when all failed. */
#include "attempts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apierror.h"

void attempts_init(struct attempts *a)
{
	a->list = a->inline_list;
	a->cap = ATTEMPTS_INLINE;
	a->n = 0;
	a->tries = 0;
	a->skips = 0;
	a->rate_limited = 0;
	a->held = 0;
	a->level = NULL;
}

void attempts_free(struct attempts *a)
{
	if (a->list != a->inline_list)
		free(a->list);
	attempts_init(a);
}

void attempts_set_level(struct attempts *a, const char *level)
{
	a->level = level;
}

/* Doubles the list's room (up to ATTEMPTS_MAX). Returns 0, or -1 when out of memory. */
static int attempts_grow(struct attempts *a)
{
	size_t cap = a->cap * 2 < ATTEMPTS_MAX ? a->cap * 2 : ATTEMPTS_MAX;
	struct attempt *big = malloc(cap * sizeof *big);

	if (big == NULL)
		return -1;
	memcpy(big, a->list, a->n * sizeof *big);
	if (a->list != a->inline_list)
		free(a->list);
	a->list = big;
	a->cap = cap;
	return 0;
}

static struct attempt *attempts_slot(struct attempts *a, const char *upstream)
{
	struct attempt *at;

	if (a->n == ATTEMPTS_MAX)
		return NULL;
	if (a->n == a->cap && attempts_grow(a) != 0)
		return NULL;
	at = &a->list[a->n++];
	at->upstream = upstream;
	at->status = 0;
	at->error[0] = '\0';
	at->skipped[0] = '\0';
	at->ms = 0;
	at->level = a->level;
	return at;
}

static void attempts_add_call(struct attempts *a, const char *upstream, unsigned status,
			      const char *error, uint64_t ms)
{
	struct attempt *at = attempts_slot(a, upstream);

	a->tries++;
	if (at == NULL)
		return;
	at->status = status;
	at->ms = ms;
	snprintf(at->error, sizeof at->error, "%s", error != NULL ? error : "");
}

void attempts_add_failure(struct attempts *a, const char *upstream, unsigned status,
			  const char *error, uint64_t ms)
{
	if (status == 429)
		a->rate_limited++;
	attempts_add_call(a, upstream, status, error, ms);
}

void attempts_add_answer(struct attempts *a, const char *upstream, unsigned status, uint64_t ms)
{
	attempts_add_call(a, upstream, status, NULL, ms);
}

void attempts_add_skip(struct attempts *a, const char *upstream, const char *reason)
{
	struct attempt *at = attempts_slot(a, upstream);

	a->skips++;
	if (at != NULL)
		snprintf(at->skipped, sizeof at->skipped, "%s", reason);
}

void attempts_add_held(struct attempts *a, const char *upstream, const char *reason)
{
	a->held++;
	attempts_add_skip(a, upstream, reason);
}

enum attempts_verdict attempts_verdict(const struct attempts *a, bool past_deadline)
{
	if (past_deadline)
		return ATTEMPTS_DEADLINE;
	if (a->tries + a->skips > 0 && a->rate_limited + a->held == a->tries + a->skips)
		return ATTEMPTS_RATE_LIMITED;
	if (a->tries == 0 && a->skips > 0)
		return ATTEMPTS_ALL_SKIPPED;
	return ATTEMPTS_ALL_FAILED;
}

unsigned attempts_status(enum attempts_verdict verdict)
{
	switch (verdict) {
	case ATTEMPTS_ALL_FAILED: return 502;
	case ATTEMPTS_ALL_SKIPPED: return 503;
	case ATTEMPTS_DEADLINE: return 504;
	case ATTEMPTS_RATE_LIMITED: return 429;
	}
	return 502;
}

void attempts_retry_after(uint64_t earliest_ms, uint64_t now_ms, uint64_t cap_ms, uint64_t *seconds, uint64_t *ms)
{
	uint64_t wait = earliest_ms > now_ms ? earliest_ms - now_ms : 1000;

	if (cap_ms > 0 && wait > cap_ms)
		wait = cap_ms;
	*ms = wait;
	*seconds = (wait + 999) / 1000;
}

static int attempts_item_json(const struct attempt *at, struct buf *out)
{
	if (buf_append_str(out, "{\"upstream\":") != 0 || buf_append_json_string(out, at->upstream) != 0)
		return -1;
	if (at->level != NULL &&
	    (buf_append_str(out, ",\"level\":") != 0 || buf_append_json_string(out, at->level) != 0))
		return -1;
	if (at->skipped[0] != '\0')
		return buf_append_str(out, ",\"skipped\":") != 0 ||
		       buf_append_json_string(out, at->skipped) != 0 || buf_append_str(out, "}") != 0 ? -1 : 0;
	if (at->status != 0 && buf_printf(out, ",\"status\":%u", at->status) != 0)
		return -1;
	if (at->error[0] != '\0' &&
	    (buf_append_str(out, ",\"error\":") != 0 || buf_append_json_string(out, at->error) != 0))
		return -1;
	return buf_printf(out, ",\"ms\":%llu}", (unsigned long long)at->ms);
}

/* Appends ,"attempts":[...]}} to an open error object. */
static int attempts_list_json(const struct attempts *a, struct buf *out)
{
	size_t i;

	if (buf_append_str(out, ",\"attempts\":[") != 0)
		return -1;
	for (i = 0; i < a->n; i++) {
		if (i > 0 && buf_append(out, ",", 1) != 0)
			return -1;
		if (attempts_item_json(&a->list[i], out) != 0)
			return -1;
	}
	return buf_append_str(out, "]}}");
}

int attempts_error_json(const struct attempts *a, enum attempts_verdict verdict, const char *model,
			uint64_t request_timeout_ms, struct buf *out)
{
	char message[320];
	const char *code, *type = "upstream_error";

	switch (verdict) {
	case ATTEMPTS_ALL_SKIPPED:
		snprintf(message, sizeof message, "no upstream available for model %s", model);
		code = "no_upstream_available";
		break;
	case ATTEMPTS_DEADLINE:
		snprintf(message, sizeof message,
			 "request_timeout of %llu ms passed before an upstream answered for model %s",
			 (unsigned long long)request_timeout_ms, model);
		code = "request_timeout";
		break;
	case ATTEMPTS_RATE_LIMITED:
		snprintf(message, sizeof message,
			 "every upstream for model %s is rate-limited: retry after the time in Retry-After", model);
		code = "rate_limit_exceeded";
		type = "rate_limit_error";
		break;
	default:
		snprintf(message, sizeof message, "all upstreams failed for model %s", model);
		code = "all_upstreams_failed";
		break;
	}
	if (apierror_open(out, message, type, NULL, code) != 0)
		return -1;
	return attempts_list_json(a, out);
}

int attempts_refusal_json(const struct attempts *a, const char *message, const char *param, struct buf *out)
{
	if (apierror_open(out, message, "invalid_request_error", param != NULL && param[0] != '\0' ? param : NULL,
			  NULL) != 0)
		return -1;
	return attempts_list_json(a, out);
}
