/* worker.c — one share-nothing worker thread: its loop, its HTTP server, its curl engine, its timers. */
#include "worker.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "engine.h"
#include "exchange.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "tierwait.h"

/* A connection accepted just before the worker stopped accepting may not
 * have sent its request yet: it has this long to, before an open connection
 * with no request counts as idle and is closed. */
#define WORKER_GRACE_MS 250

static void worker_drain_fire(struct timer *t)
{
	(void)t; /* Waking the loop is enough: it sees the deadline has passed. */
}

static void worker_on_wake(struct loop_watch *watch, uint32_t events)
{
	struct worker *w = watch->arg;
	uint64_t n;

	(void)events;
	if (read(w->wakefd, &n, sizeof n) < 0 && errno != EAGAIN)
		log_warn("eventfd read failed", LOG_UINT("worker", w->ctx.id), LOG_STR("error", strerror(errno)));
	if (atomic_load(&w->stop) && !w->ctx.draining) {
		w->ctx.draining = true;
		w->drain_deadline_ms = clock_now_ms() + w->ctx.rt->cfg->server.drain_timeout_ms;
		w->drain_grace_ms = clock_now_ms() + WORKER_GRACE_MS;
		timers_arm(&w->ctx.timers, &w->drain_timer, w->drain_deadline_ms);
		timers_arm(&w->ctx.timers, &w->grace_timer, w->drain_grace_ms);
		server_quiesce(&w->server);
	}
}

/* After drain_timeout, what is still open is ended cleanly: a stream gets an
 * SSE error event and [DONE], a waiting request a 503. They then have this
 * long to reach their clients. */
#define WORKER_FLUSH_MS 1000

static void worker_end_open_exchanges(struct worker *w)
{
	struct exchange *x;

	log_warn("drain_timeout passed with requests open; ending them", LOG_UINT("worker", w->ctx.id),
		 LOG_UINT("open", w->ctx.nexchanges));
	for (x = w->ctx.exchanges; x != NULL; x = x->next_in_worker)
		exchange_shut_down(x, true);
}

/* True when the worker may stop: nothing open, or the flush after the drain is over. */
static bool worker_drained(struct worker *w, uint64_t now)
{
	if (w->ctx.nexchanges == 0 && (server_connections(&w->server) == 0 || now >= w->drain_grace_ms))
		return true;
	if (now < w->drain_deadline_ms)
		return false;
	if (!w->ending) {
		w->ending = true;
		worker_end_open_exchanges(w);
		w->drain_deadline_ms = now + WORKER_FLUSH_MS;
		timers_arm(&w->ctx.timers, &w->drain_timer, w->drain_deadline_ms);
		return false;
	}
	return true;
}

static int worker_wait_ms(const struct worker *w, uint64_t now)
{
	uint64_t next = timers_next(&w->ctx.timers);

	if (w->ctx.server_due)
		return 0;
	if (next == UINT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return next - now > 60000 ? 60000 : (int)(next - now);
}

/* A burst this many exchanges high leaves memory behind that malloc keeps
 * (free chunks between live ones, which a heap's top trim never reaches). */
#define WORKER_TRIM_BURST 256
/* ...given back once the burst is mostly over: this share of it still open. */
#define WORKER_TRIM_SHARE 16
/* ...at most once in this long, so a busy worker that dips never pays for it often. */
#define WORKER_TRIM_EVERY_MS 1000
/* Spares (exchanges, easy handles) kept past a burst: enough for the calls of
 * a busy steady state to find one, few enough not to pin the burst's heap. */
#define WORKER_TRIM_KEEP 64

/* ...this long after it is due: the requests that end a burst free their
 * exchanges at once, but libmicrohttpd frees their connections' pools on a
 * later run, and a trim before that gives back almost nothing. */
#define WORKER_TRIM_DELAY_MS 100

/* Gives back what the burst left: the spares past WORKER_TRIM_KEEP, then the
 * free pages malloc holds. */
static void worker_trim_fire(struct timer *t)
{
	struct worker *w = t->arg;
	size_t open = w->ctx.nexchanges;

	/* The spares first: what they hold sits among the pages malloc_trim gives back. */
	exchange_trim_spares(&w->ctx, WORKER_TRIM_KEEP);
	engine_trim(w->ctx.engine, WORKER_TRIM_KEEP);
	malloc_trim(0);
	w->trimmed_ms = clock_now_ms();
	w->burst_peak = open;
	w->trim_again = !w->trim_last && open > 0;
}

/* Gives memory a burst of exchanges left behind back to the system once the
 * burst is over: without it RSS stays at the burst's peak for good. The trim
 * runs from a timer, so a loop with nothing more to do still gets to it. */
static void worker_trim_after_burst(struct worker *w, uint64_t now)
{
	size_t open = w->ctx.nexchanges;
	/* The burst's stragglers, ended after the first trim, refill the spares
	 * and curl's cache: once the last is gone they are given back too. */
	bool again = w->trim_again && open == 0;
	uint64_t at = now + WORKER_TRIM_DELAY_MS;

	if (open > w->burst_peak)
		w->burst_peak = open;
	if (timer_armed(&w->trim_timer))
		return;
	if (!again && (w->burst_peak < WORKER_TRIM_BURST || open > w->burst_peak / WORKER_TRIM_SHARE))
		return;
	/* The second trim comes once per burst: it needs no spacing. */
	if (!again && at < w->trimmed_ms + WORKER_TRIM_EVERY_MS)
		at = w->trimmed_ms + WORKER_TRIM_EVERY_MS;
	w->trim_last = again;
	w->trim_again = false;
	timers_arm(&w->ctx.timers, &w->trim_timer, at);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t now = clock_now_ms();

	for (;;) {
		/* Two readings a turn: after the wait (for the trim and the timers
		 * due), and before it, since timers and libmicrohttpd take time. */
		timers_run_due(&w->ctx.timers, now);
		if (w->ctx.server_due)
			server_run(&w->server);
		now = clock_now_ms();
		if (w->ctx.draining && worker_drained(w, now))
			break;
		if (loop_run_once(&w->ctx.loop, worker_wait_ms(w, now)) < 0) {
			log_error("epoll_wait failed", LOG_UINT("worker", w->ctx.id), LOG_STR("error", strerror(errno)));
			break;
		}
		atomic_fetch_add_explicit(&w->heartbeat, 1, memory_order_relaxed);
		exchange_recycle_released(&w->ctx);
		now = clock_now_ms();
		worker_trim_after_burst(w, now);
	}
	health_stop(w->health);
	w->health = NULL;
	server_stop(&w->server);
	return NULL;
}

static void worker_cleanup(struct worker *w)
{
	health_stop(w->health);
	w->health = NULL;
	if (w->server.mhd != NULL)
		server_stop(&w->server);
	else if (w->server.listen_fd >= 0)
		close(w->server.listen_fd); /* adopted, never handed to libmicrohttpd */
	w->server.listen_fd = -1;
	engine_free(w->ctx.engine);
	w->ctx.engine = NULL;
	exchange_free_spares(&w->ctx);
	tierwait_context_end(&w->ctx);
	timers_free(&w->ctx.timers);
	if (w->wakefd >= 0)
		close(w->wakefd);
	w->wakefd = -1;
	loop_free(&w->ctx.loop);
}

int worker_start(struct worker *w, struct runtime *rt, unsigned id, int listen_fd, char *err, size_t errlen)
{
	int rc;

	memset(w, 0, sizeof *w);
	w->ctx.id = id;
	w->ctx.rt = rt;
	w->ctx.metrics = runtime_worker_metrics(rt, id);
	w->server.listen_fd = listen_fd;
	w->server.mhd_fd = -1;
	atomic_init(&w->stop, false);
	atomic_init(&w->heartbeat, 0);
	timers_init(&w->ctx.timers);
	timer_init(&w->drain_timer, worker_drain_fire, w);
	timer_init(&w->grace_timer, worker_drain_fire, w);
	timer_init(&w->trim_timer, worker_trim_fire, w);
	rng_seed(&w->ctx.rng);
	loop_watch_init(&w->wake_watch, worker_on_wake, w);
	w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop_init(&w->ctx.loop) != 0 || w->wakefd < 0) {
		snprintf(err, errlen, "worker %u: %s", id, strerror(errno));
		goto fail;
	}
	if (loop_watch_fd(&w->ctx.loop, &w->wake_watch, w->wakefd, EPOLLIN) != 0) {
		snprintf(err, errlen, "worker %u: epoll_ctl: %s", id, strerror(errno));
		goto fail;
	}
	w->ctx.engine_ops = &engine_curl_ops;
	w->ctx.engine = engine_create(&w->ctx.loop, &w->ctx.timers,
				      rt->cfg->server.max_connections / rt->cfg->server.workers + 16, err, errlen);
	if (w->ctx.engine == NULL)
		goto fail;
	if (server_start(&w->server, &w->ctx, listen_fd, err, errlen) != 0)
		goto fail;
	/* One worker runs the checks; their verdicts reach every worker through the breakers. */
	if (id == 0)
		w->health = health_start(&w->ctx);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc != 0) {
		snprintf(err, errlen, "worker %u: pthread_create: %s", id, strerror(rc));
		goto fail;
	}
	w->started = true;
	return 0;
fail:
	worker_cleanup(w);
	return -1;
}

void worker_ping(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->wakefd, &one, sizeof one) < 0)
		log_warn("eventfd write failed", LOG_UINT("worker", w->ctx.id), LOG_STR("error", strerror(errno)));
}

void worker_request_stop(struct worker *w)
{
	atomic_store(&w->stop, true);
	worker_ping(w);
}

void worker_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = false;
	worker_cleanup(w);
}
