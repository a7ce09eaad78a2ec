/* worker.c — one share-nothing worker thread: its epoll loop, its HTTP server, its curl engine, its timers. */
#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "exchange.h"
#include "health.h"
#include "log.h"
#include "proxy.h"
#include "server.h"
#include "stream.h"

#define WORKER_EVENTS 256

/* A connection accepted just before the worker stopped accepting may not
 * have sent its request yet: it has this long to, before an open connection
 * with no request counts as idle and is closed. */
#define WORKER_GRACE_MS 250

static void worker_drain_fire(struct timer *t)
{
	(void)t; /* Waking the loop is enough: it sees the deadline has passed. */
}

static void worker_on_wake(struct worker *w)
{
	uint64_t n;

	if (read(w->wakefd, &n, sizeof n) < 0 && errno != EAGAIN)
		log_warn("worker %u: eventfd read: %s", w->id, strerror(errno));
	if (atomic_load(&w->stop) && !w->draining) {
		w->draining = true;
		w->drain_deadline_ms = clock_now_ms() + w->rt->cfg->server.drain_timeout_ms;
		w->drain_grace_ms = clock_now_ms() + WORKER_GRACE_MS;
		timers_arm(&w->timers, &w->drain_timer, w->drain_deadline_ms);
		timers_arm(&w->timers, &w->grace_timer, w->drain_grace_ms);
		server_quiesce(w);
	}
}

/* After drain_timeout, what is still open is ended cleanly: a stream gets an
 * SSE error event and [DONE], a waiting request a 503. They then have this
 * long to reach their clients. */
#define WORKER_FLUSH_MS 1000

static void worker_end_open_exchanges(struct worker *w)
{
	struct exchange *x;

	log_warn("worker %u: drain_timeout passed with %zu requests open; ending them", w->id, w->nexchanges);
	for (x = w->exchanges; x != NULL; x = x->next_in_worker) {
		proxy_abort(x);
		if (stream_committed(x))
			stream_end_with_error(x, "shutting_down", "detour is shutting down; this answer was cut short");
		else if (x->response == NULL && !x->answered)
			exchange_answer_error(x, 503, "server_error", "shutting_down",
					      NULL, "detour is shutting down; retry the request");
	}
}

/* True when the worker may stop: nothing open, or the flush after the drain is over. */
static bool worker_drained(struct worker *w, uint64_t now)
{
	if (w->nexchanges == 0 && (server_connections(w) == 0 || now >= w->drain_grace_ms))
		return true;
	if (now < w->drain_deadline_ms)
		return false;
	if (!w->ending) {
		w->ending = true;
		worker_end_open_exchanges(w);
		w->drain_deadline_ms = now + WORKER_FLUSH_MS;
		timers_arm(&w->timers, &w->drain_timer, w->drain_deadline_ms);
		return false;
	}
	return true;
}

static int worker_wait_ms(const struct worker *w, uint64_t now)
{
	uint64_t next = timers_next(&w->timers);

	if (w->mhd_due)
		return 0;
	if (next == UINT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return next - now > 60000 ? 60000 : (int)(next - now);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event events[WORKER_EVENTS];

	for (;;) {
		uint64_t now = clock_now_ms();
		int n, i;

		timers_run_due(&w->timers, now);
		if (w->mhd_due)
			server_run(w);
		if (w->draining && worker_drained(w, clock_now_ms()))
			break;
		n = epoll_wait(w->epfd, events, WORKER_EVENTS, worker_wait_ms(w, clock_now_ms()));
		if (n < 0 && errno != EINTR) {
			log_error("worker %u: epoll_wait: %s", w->id, strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			uint64_t data = events[i].data.u64;
			unsigned tag = (unsigned)(data & WORKER_TAG_MASK);
			int fd = (int)(uint32_t)(data >> 3);

			if (tag == WORKER_TAG_SERVER)
				w->mhd_due = true;
			else if (tag == WORKER_TAG_ENGINE)
				engine_on_socket(w->engine, fd, events[i].events);
			else if (tag == WORKER_TAG_CLIENT)
				exchange_client_gone((struct exchange *)(uintptr_t)(data & ~(uint64_t)WORKER_TAG_MASK));
			else if (tag == WORKER_TAG_WAKE)
				worker_on_wake(w);
		}
		exchange_recycle_released(w);
	}
	health_stop(w->health);
	w->health = NULL;
	server_stop(w);
	return NULL;
}

static void worker_cleanup(struct worker *w)
{
	struct exchange *x;

	health_stop(w->health);
	w->health = NULL;
	if (w->mhd != NULL)
		server_stop(w);
	else if (w->listen_fd >= 0)
		close(w->listen_fd); /* adopted, never handed to libmicrohttpd */
	w->listen_fd = -1;
	engine_free(w->engine);
	w->engine = NULL;
	exchange_recycle_released(w);
	while ((x = w->spare) != NULL) {
		w->spare = x->next_in_worker;
		buf_free(&x->body);
		buf_free(&x->cache_key);
		free(x);
	}
	w->nspare = 0;
	timers_free(&w->timers);
	if (w->wakefd >= 0)
		close(w->wakefd);
	if (w->epfd >= 0)
		close(w->epfd);
	w->wakefd = w->epfd = -1;
}

int worker_start(struct worker *w, struct runtime *rt, unsigned id, int listen_fd, char *err, size_t errlen)
{
	struct epoll_event ev;
	int rc;

	memset(w, 0, sizeof *w);
	w->id = id;
	w->rt = rt;
	w->listen_fd = listen_fd;
	w->mhd_fd = -1;
	atomic_init(&w->stop, false);
	timers_init(&w->timers);
	timer_init(&w->drain_timer, worker_drain_fire, w);
	timer_init(&w->grace_timer, worker_drain_fire, w);
	rng_seed(&w->rng);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->wakefd < 0) {
		snprintf(err, errlen, "worker %u: %s", id, strerror(errno));
		goto fail;
	}
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.u64 = worker_fd_data(w->wakefd, WORKER_TAG_WAKE);
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev) != 0) {
		snprintf(err, errlen, "worker %u: epoll_ctl: %s", id, strerror(errno));
		goto fail;
	}
	if (metrics_init(&w->metrics, rt->cfg->nupstreams) != 0) {
		snprintf(err, errlen, "worker %u: out of memory", id);
		goto fail;
	}
	w->engine = engine_create(w->epfd, WORKER_TAG_ENGINE, &w->timers,
				  rt->cfg->server.max_connections / rt->cfg->server.workers + 16, err, errlen);
	if (w->engine == NULL)
		goto fail;
	if (server_start(w, err, errlen) != 0)
		goto fail;
	/* One worker runs the checks; their verdicts reach every worker through the breakers. */
	if (id == 0)
		w->health = health_start(w);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc != 0) {
		snprintf(err, errlen, "worker %u: pthread_create: %s", id, strerror(rc));
		goto fail;
	}
	w->started = true;
	return 0;
fail:
	worker_cleanup(w);
	metrics_free(&w->metrics);
	return -1;
}

void worker_request_stop(struct worker *w)
{
	uint64_t one = 1;

	atomic_store(&w->stop, true);
	if (write(w->wakefd, &one, sizeof one) < 0)
		log_warn("worker %u: eventfd write: %s", w->id, strerror(errno));
}

void worker_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = false;
	worker_cleanup(w);
}

void worker_free_counters(struct worker *w)
{
	metrics_free(&w->metrics);
}
