/* fake_engine.c — the engine the attempt loop and the stream relay call in unit tests: each call is recorded, its answer is played by the test. */
#include "fake_engine.h"

#include <stdio.h>
#include <string.h>

#include <check.h>

struct fake_call fake_calls[FAKE_CALLS];
size_t fake_ncalls;

static struct engine_transfer *fake_submit(struct engine *e, const struct engine_request *req,
					   const struct engine_handlers *handlers, void *arg)
{
	struct fake_call *c;

	(void)e;
	ck_assert_uint_lt(fake_ncalls, FAKE_CALLS);
	c = &fake_calls[fake_ncalls++];
	memset(c, 0, sizeof *c);
	snprintf(c->url, sizeof c->url, "%s", req->url);
	c->handlers = handlers;
	c->arg = arg;
	return (struct engine_transfer *)(void *)c;
}

static void fake_cancel(struct engine_transfer *t)
{
	((struct fake_call *)(void *)t)->cancelled = true;
}

static void fake_unpause(struct engine_transfer *t)
{
	struct fake_call *c = (struct fake_call *)(void *)t;

	c->paused = false;
	c->unpauses++;
}

const struct engine_ops fake_engine = {
	.submit = fake_submit,
	.cancel = fake_cancel,
	.unpause = fake_unpause,
};

void fake_engine_reset(void)
{
	memset(fake_calls, 0, sizeof fake_calls);
	fake_ncalls = 0;
}
