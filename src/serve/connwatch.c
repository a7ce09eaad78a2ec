/* connwatch.c — one accepted client connection between its requests: the deadline for its request head, and its place in the per-address count. */
#include "connwatch.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "log.h"
#include "peers.h"
#include "context.h"
#include "runtime.h"
#include "timers.h"

/* Every worker of every generation shares the port, so they share the counts. */
static struct peers connwatch_peers = PEERS_INITIALIZER;

/* One connection's watch, its socket context in libmicrohttpd. */
struct connwatch_conn {
	struct connwatch *owner;
	struct timer head_timer;     /* the request head's deadline */
	int fd;
	bool counted;                /* holds one count of key in connwatch_peers */
	unsigned char key[16];
	size_t key_len;
};

void connwatch_init(struct connwatch *cw, struct context *ctx)
{
	cw->ctx = ctx;
	cw->pending_len = 0;
}

static void connwatch_release_pending(struct connwatch *watch)
{
	if (watch->pending_len > 0)
		peers_release(&connwatch_peers, watch->pending, watch->pending_len);
	watch->pending_len = 0;
}

enum MHD_Result connwatch_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct connwatch *watch = cls;
	unsigned cap = watch->ctx->rt->cfg->server.max_connections_per_ip;
	unsigned char key[16];
	size_t len;

	(void)addrlen;
	connwatch_release_pending(watch);
	if (cap == 0 || (len = peers_key(addr, key)) == 0)
		return MHD_YES;
	/* Out of memory counts nothing and lets the connection in: the cap is a fairness limit, not a wall. */
	switch (peers_take(&connwatch_peers, key, len, cap)) {
	case 0:
		memcpy(watch->pending, key, len);
		watch->pending_len = len;
		return MHD_YES;
	case 1:
		log_debug("a connection refused: its address has max_connections_per_ip open",
			  LOG_UINT("worker", watch->ctx->id), LOG_UINT("max_connections_per_ip", cap));
		return MHD_NO;
	default:
		return MHD_YES;
	}
}

/* The head did not come in time: shutting the socket down makes libmicrohttpd
 * read its end and close the connection (and tell connwatch_notify). */
static void connwatch_head_late(struct timer *t)
{
	struct connwatch_conn *cw = t->arg;

	log_info("a connection's request head was not complete within header_timeout; closing it",
		 LOG_UINT("worker", cw->owner->ctx->id));
	shutdown(cw->fd, SHUT_RDWR);
	context_server_due(cw->owner->ctx);
}

static void connwatch_started(struct connwatch *watch, struct MHD_Connection *connection, void **socket_context)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct connwatch_conn *cw = calloc(1, sizeof *cw);

	if (cw == NULL || info == NULL) {
		/* No watch: libmicrohttpd's idle timeout still ends the connection. */
		free(cw);
		connwatch_release_pending(watch);
		return;
	}
	cw->owner = watch;
	cw->fd = info->connect_fd;
	cw->counted = watch->pending_len > 0;
	memcpy(cw->key, watch->pending, watch->pending_len);
	cw->key_len = watch->pending_len;
	watch->pending_len = 0;
	timer_init(&cw->head_timer, connwatch_head_late, cw);
	timers_arm(&watch->ctx->timers, &cw->head_timer, clock_now_ms() + watch->ctx->rt->cfg->server.header_timeout_ms);
	*socket_context = cw;
}

void connwatch_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe)
{
	struct connwatch *watch = cls;
	struct connwatch_conn *cw = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		connwatch_started(watch, connection, socket_context);
		return;
	}
	if (cw == NULL)
		return;
	timers_disarm(&watch->ctx->timers, &cw->head_timer);
	if (cw->counted)
		peers_release(&connwatch_peers, cw->key, cw->key_len);
	free(cw);
	*socket_context = NULL;
}

static struct connwatch_conn *connwatch_of(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info != NULL ? info->socket_context : NULL;
}

void connwatch_head_done(struct MHD_Connection *connection)
{
	struct connwatch_conn *cw = connwatch_of(connection);

	if (cw != NULL)
		timers_disarm(&cw->owner->ctx->timers, &cw->head_timer);
}

void connwatch_request_done(struct MHD_Connection *connection)
{
	struct connwatch_conn *cw = connwatch_of(connection);

	if (cw != NULL)
		timers_arm(&cw->owner->ctx->timers, &cw->head_timer,
			   clock_now_ms() + cw->owner->ctx->rt->cfg->server.client_timeout_ms);
}

void connwatch_after_run(struct connwatch *watch)
{
	connwatch_release_pending(watch);
}
