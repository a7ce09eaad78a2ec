/* redis.h — one asynchronous Redis connection driven by a thread's own loop and timers: connect, reconnect with backoff, a deadline on every command. */
#ifndef DETOUR_REDIS_H
#define DETOUR_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "loop.h"
#include "timers.h"

/* Reconnection waits this long after the first failure, doubling up to the cap. */
#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000
/* The longest URL or password kept. */
#define REDIS_URL_MAX 512

struct redis;

/* The connection came up (up true: connected, AUTH and SELECT sent) or went down. */
typedef void redis_state_fn(void *arg, bool up);

/* A command's reply; NULL when it failed: the connection dropped, or the
 * command outlived the timeout (the connection is then dropped and remade).
 * A subscription's function is called for every message, then once with NULL. */
typedef void redis_reply_fn(void *arg, const redisReply *reply);

/*
 * A connection to url ("redis://HOST:PORT/DB" or "unix:/path"), authenticated
 * with password (NULL: none), on loop and timers (the calling thread's: every
 * function below runs on it). It connects at once and again after any failure,
 * with backoff. A command with no reply within timeout_ms drops the
 * connection: a Redis that accepts but never answers costs a caller no more
 * than timeout_ms. state tells each change of up. NULL with err filled when
 * url cannot be read or memory runs out.
 */
struct redis *redis_create(struct loop *loop, struct timers *timers, const char *url, const char *password,
			   uint64_t timeout_ms, redis_state_fn *state, void *arg, char *err, size_t errlen);

/* Closes the connection (pending replies get NULL) and frees r; NULL is fine. */
void redis_free(struct redis *r);

bool redis_is_up(const struct redis *r);

/*
 * Sends a command of argc arguments (lens[i] bytes each). fn gets the reply
 * (or NULL) exactly once, or for a subscription (subscribe true) once per
 * message and NULL at the end. Returns 0, or -1 when the connection is down
 * (fn is not called).
 */
int redis_command(struct redis *r, redis_reply_fn *fn, void *arg, bool subscribe, int argc, const char **argv,
		  const size_t *lens);

/* Reads url into host and port, or path (for unix:), and db. Returns 0, or -1. Pure. */
int redis_parse_url(const char *url, char *host, size_t hostlen, unsigned *port, char *path, size_t pathlen,
		    unsigned *db);

#endif
