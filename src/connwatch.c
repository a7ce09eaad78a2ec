/* connwatch.c — one accepted client connection between its requests: the deadline for its request head, and its place in the per-address count. */
#include "connwatch.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "log.h"
#include "peers.h"
#include "timers.h"
#include "worker.h"

/* Every worker of every generation shares the port, so they share the counts. */
static struct peers connwatch_peers = PEERS_INITIALIZER;

struct connwatch {
	struct worker *w;
	struct timer head_timer;     /* the request head's deadline */
	int fd;
	bool counted;                /* holds one count of key in connwatch_peers */
	unsigned char key[16];
	size_t key_len;
};

static void connwatch_release_pending(struct worker *w)
{
	if (w->peer_pending_len > 0)
		peers_release(&connwatch_peers, w->peer_pending, w->peer_pending_len);
	w->peer_pending_len = 0;
}

enum MHD_Result connwatch_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct worker *w = cls;
	unsigned cap = w->rt->cfg->server.max_connections_per_ip;
	unsigned char key[16];
	size_t len;

	(void)addrlen;
	connwatch_release_pending(w);
	if (cap == 0 || (len = peers_key(addr, key)) == 0)
		return MHD_YES;
	/* Out of memory counts nothing and lets the connection in: the cap is a fairness limit, not a wall. */
	switch (peers_take(&connwatch_peers, key, len, cap)) {
	case 0:
		memcpy(w->peer_pending, key, len);
		w->peer_pending_len = len;
		return MHD_YES;
	case 1:
		log_debug("worker %u: a connection refused: its address has max_connections_per_ip (%u) open",
			  w->id, cap);
		return MHD_NO;
	default:
		return MHD_YES;
	}
}

/* The head did not come in time: shutting the socket down makes libmicrohttpd
 * read its end and close the connection (and tell connwatch_notify). */
static void connwatch_head_late(struct timer *t)
{
	struct connwatch *cw = t->arg;

	log_info("worker %u: a connection's request head was not complete within header_timeout; closing it",
		 cw->w->id);
	shutdown(cw->fd, SHUT_RDWR);
	worker_server_due(cw->w);
}

static void connwatch_started(struct worker *w, struct MHD_Connection *connection, void **socket_context)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct connwatch *cw = calloc(1, sizeof *cw);

	if (cw == NULL || info == NULL) {
		/* No watch: libmicrohttpd's idle timeout still ends the connection. */
		free(cw);
		connwatch_release_pending(w);
		return;
	}
	cw->w = w;
	cw->fd = info->connect_fd;
	cw->counted = w->peer_pending_len > 0;
	memcpy(cw->key, w->peer_pending, w->peer_pending_len);
	cw->key_len = w->peer_pending_len;
	w->peer_pending_len = 0;
	timer_init(&cw->head_timer, connwatch_head_late, cw);
	timers_arm(&w->timers, &cw->head_timer, clock_now_ms() + w->rt->cfg->server.header_timeout_ms);
	*socket_context = cw;
}

void connwatch_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe)
{
	struct worker *w = cls;
	struct connwatch *cw = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		connwatch_started(w, connection, socket_context);
		return;
	}
	if (cw == NULL)
		return;
	timers_disarm(&w->timers, &cw->head_timer);
	if (cw->counted)
		peers_release(&connwatch_peers, cw->key, cw->key_len);
	free(cw);
	*socket_context = NULL;
}

static struct connwatch *connwatch_of(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info != NULL ? info->socket_context : NULL;
}

void connwatch_head_done(struct MHD_Connection *connection)
{
	struct connwatch *cw = connwatch_of(connection);

	if (cw != NULL)
		timers_disarm(&cw->w->timers, &cw->head_timer);
}

void connwatch_request_done(struct MHD_Connection *connection)
{
	struct connwatch *cw = connwatch_of(connection);

	if (cw != NULL)
		timers_arm(&cw->w->timers, &cw->head_timer,
			   clock_now_ms() + cw->w->rt->cfg->server.client_timeout_ms);
}

void connwatch_after_run(struct worker *w)
{
	connwatch_release_pending(w);
}
