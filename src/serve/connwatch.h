/* connwatch.h — one accepted client connection between its requests: the deadline for its request head, and its place in the per-address count. */
#ifndef DETOUR_CONNWATCH_H
#define DETOUR_CONNWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <microhttpd.h>

struct context;

/* One server's side of the watches: the address counted at accept, until its connection starts. */
struct connwatch {
	struct context *ctx;
	unsigned char pending[16];   /* an address counted at accept, not yet its connection's */
	size_t pending_len;          /* 0: none */
};

/* Sets up a server's watches on ctx's thread. */
void connwatch_init(struct connwatch *cw, struct context *ctx);

/*
 * libmicrohttpd's MHD_AcceptPolicyCallback (cls: the server's struct connwatch): refuses an
 * address that already has server.max_connections_per_ip connections open on
 * any worker, else counts the new one (its connwatch_notify STARTED takes the
 * count over).
 */
enum MHD_Result connwatch_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);

/*
 * libmicrohttpd's MHD_NotifyConnectionCallback (cls: the server's struct connwatch). STARTED
 * arms the head deadline: the request line and headers must all arrive
 * within server.header_timeout of the accept, however slowly they trickle
 * (libmicrohttpd's own timeout is an idle timer that a byte a second resets).
 * CLOSED disarms it and gives the address's count back.
 */
void connwatch_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe);

/* The request head of connection is complete: its deadline is kept. */
void connwatch_head_done(struct MHD_Connection *connection);

/*
 * A request on connection ended and the connection may stay open for the
 * next one: that one's head must be complete within server.client_timeout
 * (the idle time libmicrohttpd already allows a kept-alive connection).
 */
void connwatch_request_done(struct MHD_Connection *connection);

/* After each MHD_run: gives back a count taken for a connection libmicrohttpd then failed to create. */
void connwatch_after_run(struct connwatch *cw);

#endif
