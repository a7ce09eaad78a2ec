/* server.h — a worker's HTTP front end: its libmicrohttpd daemon, the request handler, and the dispatch to endpoints. */
#ifndef DETOUR_SERVER_H
#define DETOUR_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct worker;

/* Starts worker w's daemon in external epoll mode on the configured address
 * (SO_REUSEPORT, so every worker listens on the same port) and registers its
 * epoll fd in the worker's loop. Returns 0, or -1 with err filled. */
int server_start(struct worker *w, char *err, size_t errlen);

/* Lets libmicrohttpd do its work, then re-arms its timeout. */
void server_run(struct worker *w);

/* Stops accepting new connections; requests on open ones still complete. */
void server_quiesce(struct worker *w);

/* Client connections the worker's server holds open, busy or idle. */
unsigned server_connections(const struct worker *w);

/* Answers every waiting exchange with 503 and closes the daemon. */
void server_stop(struct worker *w);

/* Checks that host:port can be bound before the workers bind it with
 * SO_REUSEPORT (which would share a port another process holds). */
int server_probe_address(const char *host, uint16_t port, char *err, size_t errlen);

#endif
