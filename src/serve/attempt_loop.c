/* attempt_loop.c — the attempt loop's own state: where one exchange stands in its route's cascade of levels and targets. */
#include "attempt_loop.h"

#include <stdlib.h>
#include <string.h>

#include "upstream.h"

void attempt_loop_init(struct attempt_loop *a)
{
	buf_init(&a->cache_key, 0);
	a->upstream_body = NULL;
	a->call_headers = NULL;
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
	a->refusal[0] = '\0';
	a->refusal_param[0] = '\0';
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

bool attempt_loop_tried(const struct attempt_loop *a, const struct config_upstream *u, const char *model)
{
	size_t i;

	for (i = 0; i < a->ntried; i++)
		if (a->tried[i].upstream == u && strcmp(a->tried[i].model, model) == 0)
			return true;
	return false;
}

void attempt_loop_note_tried(struct attempt_loop *a, const struct config_upstream *u, const char *model)
{
	if (a->ntried < ROUTER_MAX_TARGETS && !attempt_loop_tried(a, u, model)) {
		a->tried[a->ntried].upstream = u;
		a->tried[a->ntried].model = model;
		a->ntried++;
	}
}
