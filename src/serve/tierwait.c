/* tierwait.c — a request waiting on the shared second tier (Redis): the fetch, its timer, the reply back on the request's own thread. */
#include "tierwait.h"

#include <sys/epoll.h>

#include "clock.h"
#include "context.h"
#include "runtime.h"

void tierwait_init(struct tierwait *w, struct context *ctx)
{
	w->ctx = ctx;
	w->fetch = NULL;
	w->done = NULL;
	w->arg = NULL;
}

static void tierwait_on_mail(struct loop_watch *watch, uint32_t events)
{
	struct context *ctx = watch->arg;

	(void)events;
	shared_mailbox_deliver(ctx->mailbox);
}

/* ctx's mailbox, made the first time one of its exchanges waits. */
static struct shared_mailbox *tierwait_mailbox(struct context *ctx)
{
	if (ctx->mailbox != NULL)
		return ctx->mailbox;
	ctx->mailbox = shared_mailbox_create();
	if (ctx->mailbox == NULL)
		return NULL;
	loop_watch_init(&ctx->mailbox_watch, tierwait_on_mail, ctx);
	if (loop_watch_fd(&ctx->loop, &ctx->mailbox_watch, shared_mailbox_fd(ctx->mailbox), EPOLLIN) != 0) {
		shared_mailbox_close(ctx->mailbox);
		ctx->mailbox = NULL;
	}
	return ctx->mailbox;
}

/* Ends the wait and tells its owner; the fetch is already delivered or cancelled. */
static void tierwait_end(struct tierwait *w, bool found)
{
	tierwait_fn *done = w->done;
	void *arg = w->arg;

	w->fetch = NULL;
	w->done = NULL;
	w->arg = NULL;
	timers_disarm(&w->ctx->timers, &w->timer);
	if (done != NULL)
		done(arg, found);
}

static void tierwait_on_reply(void *arg, bool found)
{
	tierwait_end(arg, found);
}

/* Redis is slow: the request goes on as a miss (the fetch's reply, if it comes, is dropped). */
static void tierwait_on_timeout(struct timer *t)
{
	struct tierwait *w = t->arg;

	shared_fetch_cancel(w->fetch);
	tierwait_end(w, false);
}

bool tierwait_start(struct tierwait *w, uint64_t deadline_ms, enum shared_tier tier, const char *key,
		    size_t key_len, tierwait_fn *done, void *arg)
{
	struct shared *sh = w->ctx->rt->shared;
	uint64_t now = clock_now_ms(), until;
	struct shared_mailbox *mb;

	if (sh == NULL || !shared_up(sh) || w->fetch != NULL)
		return false;
	until = now + shared_timeout(sh);
	if (until > deadline_ms)
		until = deadline_ms;
	mb = until > now ? tierwait_mailbox(w->ctx) : NULL;
	if (mb == NULL)
		return false;
	w->fetch = shared_fetch(sh, mb, tier, key, key_len, tierwait_on_reply, w);
	if (w->fetch == NULL)
		return false;
	w->done = done;
	w->arg = arg;
	timer_init(&w->timer, tierwait_on_timeout, w);
	timers_arm(&w->ctx->timers, &w->timer, until);
	return true;
}

void tierwait_cancel(struct tierwait *w)
{
	if (w->fetch == NULL)
		return;
	shared_fetch_cancel(w->fetch);
	w->fetch = NULL;
	w->done = NULL;
	w->arg = NULL;
	timers_disarm(&w->ctx->timers, &w->timer);
}

void tierwait_context_end(struct context *ctx)
{
	if (ctx->mailbox == NULL)
		return;
	loop_unwatch(&ctx->loop, &ctx->mailbox_watch);
	shared_mailbox_close(ctx->mailbox);
	ctx->mailbox = NULL;
}
