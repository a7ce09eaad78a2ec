/* upstream.h — one upstream at run time: the URLs and headers detour sends it, and the state every worker shares. */
#ifndef DETOUR_UPSTREAM_H
#define DETOUR_UPSTREAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "config.h"
#include "request.h"

struct upstream_error {
	unsigned status;          /* 0: no HTTP status */
	char message[160];        /* key-free */
	uint64_t at_wall_ms;      /* 0: never */
};

struct upstream {
	const struct config_upstream *cfg;
	char *url_chat;
	char *url_completions;
	char *url_embeddings;
	char *url_models;
	char *url_messages;
	struct curl_slist *headers;       /* for a POST of JSON */
	struct curl_slist *probe_headers; /* for a GET */

	/* Shared by every worker. */
	atomic_uint_fast64_t requests;    /* calls made */
	atomic_uint_fast64_t successes;
	atomic_uint_fast64_t failures;    /* upstream faults */
	pthread_mutex_t lock;             /* guards what follows */
	struct upstream_error last_error;
};

/* Builds u from cfg. Returns 0, or -1 with err filled. */
int upstream_init(struct upstream *u, const struct config_upstream *cfg, char *err, size_t errlen);
void upstream_free(struct upstream *u);

/* The URL for a request kind. */
const char *upstream_url(const struct upstream *u, enum request_kind kind);

/* Counts one finished call. fault: it was the upstream's fault (fallback_on). */
void upstream_record(struct upstream *u, bool success, bool fault, unsigned status, const char *error);

/* A consistent copy of the last error. */
void upstream_last_error(struct upstream *u, struct upstream_error *out);

/*
 * Writes into out a short, key-free description of a failed HTTP answer: the
 * upstream's own error message when its body has one (never for 401 and 403,
 * whose messages can quote part of a key), else the status.
 */
void upstream_describe_status(const struct upstream *u, unsigned status, const char *body, size_t len,
			      char *out, size_t outlen);

#endif
