/* redis.c — one asynchronous Redis connection driven by a thread's own loop and timers: connect, reconnect with backoff, a deadline on every command. */
#include "redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <hiredis/async.h>

#include "clock.h"

/* One command waiting for its reply; replies come in the order commands went. */
struct redis_call {
	struct redis *r;
	redis_reply_fn *fn;
	void *arg;
	uint64_t sent_ms;
	bool subscribe;
	bool pending;                /* in r's list: no reply yet */
	struct redis_call *prev, *next;
};

struct redis {
	struct loop *loop;
	struct timers *timers;
	char host[256];
	char path[256];              /* unix: socket; "" for TCP */
	unsigned port, db;
	char password[REDIS_URL_MAX];
	uint64_t timeout_ms;
	redis_state_fn *state;
	void *state_arg;

	redisAsyncContext *ac;       /* NULL while disconnected */
	bool up;
	uint32_t events;             /* what hiredis asked the loop to watch */
	struct loop_watch watch;
	struct timer deadline;       /* connecting, or the oldest command's reply */
	struct timer retry;          /* the next connection attempt */
	uint64_t backoff_ms;
	uint64_t connect_at_ms;
	struct redis_call *head, *tail; /* commands with no reply yet, oldest first */
};

int redis_parse_url(const char *url, char *host, size_t hostlen, unsigned *port, char *path, size_t pathlen,
		    unsigned *db)
{
	const char *p, *colon, *slash, *at;
	char *end;
	unsigned long n;
	size_t hl;

	*port = 6379;
	*db = 0;
	host[0] = path[0] = '\0';
	if (strncmp(url, "unix:", 5) == 0) {
		if (url[5] == '\0' || strlen(url + 5) >= pathlen)
			return -1;
		snprintf(path, pathlen, "%s", url + 5);
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return -1;
	p = url + 8;
	at = strchr(p, '@'); /* a user name before @ is not used: the password is a secret of its own */
	if (at != NULL)
		p = at + 1;
	slash = strchr(p, '/');
	colon = memchr(p, ':', slash != NULL ? (size_t)(slash - p) : strlen(p));
	hl = colon != NULL ? (size_t)(colon - p) : slash != NULL ? (size_t)(slash - p) : strlen(p);
	if (hl == 0 || hl >= hostlen)
		return -1;
	memcpy(host, p, hl);
	host[hl] = '\0';
	if (colon != NULL) {
		errno = 0;
		n = strtoul(colon + 1, &end, 10);
		if (errno != 0 || end == colon + 1 || n == 0 || n > 65535 || (*end != '\0' && *end != '/'))
			return -1;
		*port = (unsigned)n;
	}
	if (slash != NULL && slash[1] != '\0') {
		errno = 0;
		n = strtoul(slash + 1, &end, 10);
		if (errno != 0 || *end != '\0' || n > 1000000)
			return -1;
		*db = (unsigned)n;
	}
	return 0;
}

/* ---- the loop adapter: hiredis says what to watch, the loop tells hiredis ---- */

static void redis_watch_set(struct redis *r, uint32_t events)
{
	r->events = events;
	if (r->ac == NULL)
		return;
	if (events == 0)
		loop_unwatch(r->loop, &r->watch);
	else
		loop_watch_fd(r->loop, &r->watch, r->ac->c.fd, events);
}

static void redis_add_read(void *p) { struct redis *r = p; redis_watch_set(r, r->events | EPOLLIN); }
static void redis_del_read(void *p) { struct redis *r = p; redis_watch_set(r, r->events & ~(uint32_t)EPOLLIN); }
static void redis_add_write(void *p) { struct redis *r = p; redis_watch_set(r, r->events | EPOLLOUT); }
static void redis_del_write(void *p) { struct redis *r = p; redis_watch_set(r, r->events & ~(uint32_t)EPOLLOUT); }

static void redis_cleanup(void *p)
{
	struct redis *r = p;

	loop_unwatch(r->loop, &r->watch);
	r->events = 0;
}

static void redis_on_fd(struct loop_watch *w, uint32_t events)
{
	struct redis *r = w->arg;

	/* Reading may end the connection (hiredis frees it): look again before writing. */
	if (r->ac != NULL && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		redisAsyncHandleRead(r->ac);
	if (r->ac != NULL && (events & EPOLLOUT))
		redisAsyncHandleWrite(r->ac);
}

/* ---- commands and their deadline ---------------------------------------------- */

static void redis_unlink(struct redis *r, struct redis_call *c)
{
	if (!c->pending)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		r->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		r->tail = c->prev;
	c->prev = c->next = NULL;
	c->pending = false;
}

/* Arms the deadline for what is late first: the connection, or the oldest reply. */
static void redis_arm_deadline(struct redis *r)
{
	if (r->head != NULL)
		timers_arm(r->timers, &r->deadline, r->head->sent_ms + r->timeout_ms);
	else if (r->ac != NULL && !r->up)
		timers_arm(r->timers, &r->deadline, r->connect_at_ms + (r->timeout_ms > 1000 ? r->timeout_ms : 1000));
	else
		timers_disarm(r->timers, &r->deadline);
}

static void redis_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis_call *c = privdata;
	struct redis *r = c->r;

	(void)ac;
	redis_unlink(r, c);
	c->fn(c->arg, reply);
	if (reply == NULL || !c->subscribe)
		free(c);
	redis_arm_deadline(r);
}

/* Sends a command on a connected context, up or still shaking hands. */
static int redis_send(struct redis *r, redis_reply_fn *fn, void *arg, bool subscribe, int argc, const char **argv,
		      const size_t *lens)
{
	struct redis_call *c;

	if (r->ac == NULL)
		return -1;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return -1;
	c->r = r;
	c->fn = fn;
	c->arg = arg;
	c->subscribe = subscribe;
	c->sent_ms = clock_now_ms();
	c->pending = true;
	c->prev = r->tail;
	if (r->tail != NULL)
		r->tail->next = c;
	else
		r->head = c;
	r->tail = c;
	if (redisAsyncCommandArgv(r->ac, redis_on_reply, c, argc, argv, lens) != REDIS_OK) {
		redis_unlink(r, c);
		free(c);
		return -1;
	}
	redis_arm_deadline(r);
	return 0;
}

int redis_command(struct redis *r, redis_reply_fn *fn, void *arg, bool subscribe, int argc, const char **argv,
		  const size_t *lens)
{
	if (r->ac == NULL || !r->up)
		return -1;
	return redis_send(r, fn, arg, subscribe, argc, argv, lens);
}

/* ---- connecting ------------------------------------------------------------------ */

static void redis_set_up(struct redis *r, bool up)
{
	if (r->up == up)
		return;
	r->up = up;
	if (r->state != NULL)
		r->state(r->state_arg, up);
}

/* A connection attempt failed or ended: said every time, so a Redis never reached is told too. */
static void redis_set_down(struct redis *r)
{
	if (r->up)
		redis_set_up(r, false);
	else if (r->state != NULL)
		r->state(r->state_arg, false);
}

static void redis_schedule(struct redis *r)
{
	timers_arm(r->timers, &r->retry, clock_now_ms() + r->backoff_ms);
	r->backoff_ms = r->backoff_ms * 2 > REDIS_BACKOFF_MAX_MS ? REDIS_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/* hiredis frees the context after this: forget it, and try again later. */
static void redis_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;

	(void)status;
	r->ac = NULL;
	r->events = 0;
	redis_set_down(r);
	redis_arm_deadline(r);
	if (!timer_armed(&r->retry))
		redis_schedule(r);
}

static void redis_ignore(void *arg, const redisReply *reply)
{
	(void)arg;
	(void)reply;
}

/* The connection is up once Redis answers: a server that accepts and never
 * answers stays down (its PING outlives the timeout and the connection is remade). */
static void redis_on_pong(void *arg, const redisReply *reply)
{
	struct redis *r = arg;

	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		return;
	r->backoff_ms = REDIS_BACKOFF_MIN_MS;
	redis_set_up(r, true);
}

static void redis_on_connect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;
	char db[16];
	const char *argv[2];

	if (status != REDIS_OK) {
		r->ac = NULL; /* hiredis frees it */
		r->events = 0;
		redis_set_down(r);
		redis_arm_deadline(r);
		redis_schedule(r);
		return;
	}
	if (r->password[0] != '\0') {
		argv[0] = "AUTH";
		argv[1] = r->password;
		redis_send(r, redis_ignore, NULL, false, 2, argv, NULL);
	}
	if (r->db != 0) {
		snprintf(db, sizeof db, "%u", r->db);
		argv[0] = "SELECT";
		argv[1] = db;
		redis_send(r, redis_ignore, NULL, false, 2, argv, NULL);
	}
	argv[0] = "PING";
	redis_send(r, redis_on_pong, r, false, 1, argv, NULL);
	redis_arm_deadline(r);
}

static void redis_connect(struct redis *r)
{
	redisAsyncContext *ac;

	ac = r->path[0] != '\0' ? redisAsyncConnectUnix(r->path) : redisAsyncConnect(r->host, (int)r->port);
	if (ac == NULL || ac->err != 0) {
		if (ac != NULL)
			redisAsyncFree(ac);
		redis_set_down(r);
		redis_schedule(r);
		return;
	}
	ac->data = r;
	ac->ev.data = r;
	ac->ev.addRead = redis_add_read;
	ac->ev.delRead = redis_del_read;
	ac->ev.addWrite = redis_add_write;
	ac->ev.delWrite = redis_del_write;
	ac->ev.cleanup = redis_cleanup;
	r->ac = ac;
	r->connect_at_ms = clock_now_ms();
	redisAsyncSetConnectCallback(ac, redis_on_connect);
	redisAsyncSetDisconnectCallback(ac, redis_on_disconnect);
	/* A non-blocking connect completes on the first write event. */
	redis_add_write(r);
	redis_arm_deadline(r);
}

static void redis_on_retry(struct timer *t)
{
	redis_connect(t->arg);
}

/* Drops the connection now: pending replies get NULL, and hiredis's callbacks
 * tell the rest (down, a later attempt). */
static void redis_drop(struct redis *r)
{
	redisAsyncContext *ac = r->ac;

	if (ac == NULL)
		return;
	redisAsyncFree(ac); /* runs redis_on_disconnect only if it was connected */
	if (r->ac == NULL)
		return; /* redis_on_disconnect did the rest */
	r->ac = NULL;
	r->events = 0;
	redis_set_down(r);
	redis_arm_deadline(r);
	if (!timer_armed(&r->retry))
		redis_schedule(r);
}

static void redis_on_deadline(struct timer *t)
{
	redis_drop(t->arg);
}

struct redis *redis_create(struct loop *loop, struct timers *timers, const char *url, const char *password,
			   uint64_t timeout_ms, redis_state_fn *state, void *arg, char *err, size_t errlen)
{
	struct redis *r = calloc(1, sizeof *r);

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (redis_parse_url(url, r->host, sizeof r->host, &r->port, r->path, sizeof r->path, &r->db) != 0 ||
	    (password != NULL && strlen(password) >= sizeof r->password)) {
		snprintf(err, errlen, "shared.redis cannot be read");
		free(r);
		return NULL;
	}
	r->loop = loop;
	r->timers = timers;
	snprintf(r->password, sizeof r->password, "%s", password != NULL ? password : "");
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	r->state = state;
	r->state_arg = arg;
	r->backoff_ms = REDIS_BACKOFF_MIN_MS;
	loop_watch_init(&r->watch, redis_on_fd, r);
	timer_init(&r->deadline, redis_on_deadline, r);
	timer_init(&r->retry, redis_on_retry, r);
	redis_connect(r);
	return r;
}

void redis_free(struct redis *r)
{
	if (r == NULL)
		return;
	r->state = NULL;
	if (r->ac != NULL) {
		redisAsyncFree(r->ac);
		r->ac = NULL;
	}
	timers_disarm(r->timers, &r->deadline);
	timers_disarm(r->timers, &r->retry);
	memset(r->password, 0, sizeof r->password);
	free(r);
}

bool redis_is_up(const struct redis *r)
{
	return r != NULL && r->up;
}
