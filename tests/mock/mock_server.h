/* mock_server.h — the HTTP side of detour-mock: libmicrohttpd set up for thousands of slow connections, each request routed to the control API or the dialect with its faults applied. */
#ifndef DETOUR_MOCK_SERVER_H
#define DETOUR_MOCK_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "mock_fault_set.h"

/* Largest request body; a larger one is answered 413 as soon as it is known. */
#define MOCK_SERVER_MAX_BODY (16u << 20)

enum mock_mode {
	MOCK_MODE_OPENAI,
	MOCK_MODE_ANTHROPIC,
};

/* What main parsed; every pointer is borrowed and must outlive the server. */
struct mock_config {
	const char *name;
	const char *host;      /* as getaddrinfo takes it: "127.0.0.1", "::1", "localhost" */
	const char *port;      /* "0" picks a free port */
	enum mock_mode mode;
	const char *content;   /* the answer text unless the faults set one */
	char *const *models;   /* at least one */
	size_t n_models;
	const char *api_key;   /* NULL: no authentication */
	uint64_t seed;         /* fail_rate's RNG */
};

struct mock_server;

/*
 * Binds cfg->host:cfg->port and starts serving with faults as the fault set in
 * force (its reference is taken, even on failure). Returns 0 and the server in
 * *out, or -1 with a message in err ("cannot listen on HOST:PORT: reason").
 */
int mock_server_start(struct mock_server **out, const struct mock_config *cfg, struct mock_fault_set *faults,
		      char *err, size_t errlen);

/* The bound port (the real one when cfg->port was "0"). */
unsigned mock_server_port(const struct mock_server *srv);

/* Ends every wait (hang, stall, delays), closes every connection, joins every thread and frees the server. */
void mock_server_stop(struct mock_server *srv);

#endif
