/* attempt_loop.c — the attempt loop's own state: where one exchange stands in its route's cascade of levels and targets. */
#include "attempt_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upstream.h"

void attempt_loop_init(struct attempt_loop *a)
{
	buf_init(&a->cache_key, 0);
	a->upstream_body = NULL;
	a->call_headers = NULL;
	a->tried_more = NULL;
	a->refusal = NULL;
}

void attempt_loop_begin(struct attempt_loop *a)
{
	a->route = NULL;
	a->mode = CONFIG_LEVEL_AUTO;
	a->level = CONFIG_LEVEL_FULL;
	a->targets = NULL;
	a->ntried = 0;
	a->norder = 0;
	attempt_loop_level_begin(a);
	a->target = NULL;
	a->dialect = NULL;
	a->upstream_stream = false;
	free(a->upstream_body);
	a->upstream_body = NULL;
	upstream_call_headers_free(a->call_headers);
	a->call_headers = NULL;
	buf_reset(&a->cache_key);
	a->probe = false;
	a->target_tries = 0;
	timer_init(&a->wait_timer, NULL, NULL);
	a->holds_retry = false;
	a->counted_active = false;
	a->earliest_retry_ms = 0;
	a->refused_until_ms = 0;
	free(a->refusal);
	a->refusal = NULL;
	a->unsayable = 0;
	a->native_client = false;
	a->continuing = false;
	a->partial = NULL;
	a->partial_len = 0;
	a->continuations = 0;
	a->resuming = false;
	a->resumed_from = 0;
}

void attempt_loop_end(struct attempt_loop *a)
{
	free(a->tried_more);
	a->tried_more = NULL;
	free(a->refusal);
	a->refusal = NULL;
	free(a->upstream_body);
	a->upstream_body = NULL;
	upstream_call_headers_free(a->call_headers);
	a->call_headers = NULL;
}

void attempt_loop_shrink(struct attempt_loop *a, size_t keep)
{
	buf_shrink(&a->cache_key, keep);
}

void attempt_loop_free(struct attempt_loop *a)
{
	attempt_loop_end(a);
	buf_free(&a->cache_key);
}

void attempt_loop_level_begin(struct attempt_loop *a)
{
	a->next = 0;
	memset(a->refused, 0, sizeof a->refused);
	memset(a->revisited, 0, sizeof a->revisited);
	a->early_done = false;
}

/* The i-th call noted (i < ntried). */
static const struct attempt_loop_tried *attempt_loop_tried_at(const struct attempt_loop *a, size_t i)
{
	return i < ATTEMPT_LOOP_TRIED_INLINE ? &a->tried_inline[i] : &a->tried_more[i - ATTEMPT_LOOP_TRIED_INLINE];
}

bool attempt_loop_tried(const struct attempt_loop *a, const struct config_upstream *u, const char *model)
{
	size_t i;

	for (i = 0; i < a->ntried; i++) {
		const struct attempt_loop_tried *t = attempt_loop_tried_at(a, i);

		if (t->upstream == u && strcmp(t->model, model) == 0)
			return true;
	}
	return false;
}

void attempt_loop_note_tried(struct attempt_loop *a, const struct config_upstream *u, const char *model)
{
	struct attempt_loop_tried *t;

	if (a->ntried == ROUTER_MAX_TARGETS || attempt_loop_tried(a, u, model))
		return;
	if (a->ntried < ATTEMPT_LOOP_TRIED_INLINE) {
		t = &a->tried_inline[a->ntried];
	} else {
		if (a->tried_more == NULL &&
		    (a->tried_more = malloc((ROUTER_MAX_TARGETS - ATTEMPT_LOOP_TRIED_INLINE) * sizeof *t)) == NULL)
			return;
		t = &a->tried_more[a->ntried - ATTEMPT_LOOP_TRIED_INLINE];
	}
	t->upstream = u;
	t->model = model;
	a->ntried++;
}

void attempt_loop_note_refusal(struct attempt_loop *a, const char *upstream, const char *why, const char *param)
{
	if (a->refusal != NULL || (a->refusal = malloc(sizeof *a->refusal)) == NULL)
		return;
	snprintf(a->refusal->why, sizeof a->refusal->why, "The request cannot be sent to upstream %s: %s", upstream, why);
	snprintf(a->refusal->param, sizeof a->refusal->param, "%s", param);
}

const char *attempt_loop_refusal(const struct attempt_loop *a)
{
	return a->refusal != NULL ? a->refusal->why : "The request cannot be sent to any upstream.";
}

const char *attempt_loop_refusal_param(const struct attempt_loop *a)
{
	return a->refusal != NULL && a->refusal->param[0] != '\0' ? a->refusal->param : NULL;
}
