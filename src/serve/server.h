/* server.h — a worker's HTTP front end: its libmicrohttpd daemon, the request handler, and the dispatch to endpoints. */
#ifndef DETOUR_SERVER_H
#define DETOUR_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "connwatch.h"
#include "context.h"
#include "gate.h"
#include "loop.h"
#include "timers.h"

struct MHD_Daemon;

/* One thread's HTTP server, embedded in its worker. */
struct server {
	struct context *ctx;
	struct MHD_Daemon *mhd;
	int mhd_fd;                  /* libmicrohttpd's own epoll fd, watched in the thread's loop */
	int listen_fd;               /* -1 once quiesced */
	struct loop_watch watch;     /* on mhd_fd */
	struct timer timer;          /* libmicrohttpd's own timeouts */
	struct gate gate;            /* libmicrohttpd stopped accepting (limit, EMFILE) */
	unsigned limit;              /* its MHD_OPTION_CONNECTION_LIMIT */
	struct connwatch connwatch;  /* request-head deadlines and per-address counts */
};

/* Starts the daemon of ctx's thread in external epoll mode on the configured
 * address (SO_REUSEPORT, so every worker listens on the same port) and
 * watches its epoll fd in ctx's loop. listen_fd is a listening socket to adopt,
 * or -1 to bind one (the server owns it from now on, even on failure).
 * Returns 0, or -1 with err filled. */
int server_start(struct server *s, struct context *ctx, int listen_fd, char *err, size_t errlen);

/* Lets libmicrohttpd do its work, then re-arms its timeout. */
void server_run(struct server *s);

/* Stops accepting new connections; requests on open ones still complete. */
void server_quiesce(struct server *s);

/* Client connections the server holds open, busy or idle. */
unsigned server_connections(const struct server *s);

/* Answers every waiting exchange with 503, drops committed streams, and
 * closes the daemon; harmless when it never started. */
void server_stop(struct server *s);

/* Checks that host:port can be bound before the workers bind it with
 * SO_REUSEPORT (which would share a port another process holds). */
int server_probe_address(const char *host, uint16_t port, char *err, size_t errlen);

#endif
