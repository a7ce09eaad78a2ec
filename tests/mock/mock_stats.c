/* mock_stats.c — what the mock has seen: request and connection counters, the last requests received, as /_mock/stats shows them. */
#include "mock_stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mock_clock.h"
#include "mock_json.h"

/* One received request, in a single allocation: the strings follow the struct. */
struct mock_stats_entry {
	const char *method;
	const char *path;
	const char *headers;
	size_t headers_len;
	const char *body;      /* NULL: no body */
	size_t body_len;
	long long ms;
};

struct mock_stats_path {
	char *path;
	unsigned long long count;
};

struct mock_stats {
	const char *name;
	pthread_mutex_t lock;   /* guards everything below */
	unsigned long long requests;
	unsigned long long in_flight;
	unsigned long long opened;
	unsigned long long closed;
	unsigned long long open;
	unsigned long long aborted;
	unsigned long long other_paths;
	long long last_abort_ms;   /* -1: none */
	long long last_close_ms;   /* -1: none */
	struct mock_stats_path paths[MOCK_STATS_PATHS];
	size_t n_paths;
	struct mock_stats_entry *log[MOCK_STATS_LOG];   /* ring; log_next is the oldest slot */
	size_t log_next;
};

struct mock_stats *mock_stats_new(const char *name)
{
	struct mock_stats *stats = calloc(1, sizeof *stats);

	if (stats == NULL)
		return NULL;
	if (pthread_mutex_init(&stats->lock, NULL) != 0) {
		free(stats);
		return NULL;
	}
	stats->name = name;
	stats->last_abort_ms = -1;
	stats->last_close_ms = -1;
	return stats;
}

/* Drops the counters and the log; the caller holds the lock. */
static void mock_stats_clear(struct mock_stats *stats)
{
	size_t i;

	for (i = 0; i < stats->n_paths; i++)
		free(stats->paths[i].path);
	for (i = 0; i < MOCK_STATS_LOG; i++) {
		free(stats->log[i]);
		stats->log[i] = NULL;
	}
	stats->n_paths = 0;
	stats->log_next = 0;
	stats->requests = 0;
	stats->opened = 0;
	stats->closed = 0;
	stats->aborted = 0;
	stats->other_paths = 0;
	stats->last_abort_ms = -1;
	stats->last_close_ms = -1;
}

void mock_stats_free(struct mock_stats *stats)
{
	if (stats == NULL)
		return;
	mock_stats_clear(stats);
	pthread_mutex_destroy(&stats->lock);
	free(stats);
}

void mock_stats_request_begin(struct mock_stats *stats, const char *path)
{
	size_t i;

	pthread_mutex_lock(&stats->lock);
	stats->requests++;
	stats->in_flight++;
	/* O(paths): a handful in practice, MOCK_STATS_PATHS at worst */
	for (i = 0; i < stats->n_paths; i++) {
		if (strcmp(stats->paths[i].path, path) == 0)
			break;
	}
	if (i == stats->n_paths && i < MOCK_STATS_PATHS) {
		stats->paths[i].path = strdup(path);
		stats->paths[i].count = 0;
		if (stats->paths[i].path != NULL)
			stats->n_paths++;
	}
	if (i < stats->n_paths)
		stats->paths[i].count++;
	else
		stats->other_paths++;
	pthread_mutex_unlock(&stats->lock);
}

void mock_stats_request_end(struct mock_stats *stats, bool aborted)
{
	pthread_mutex_lock(&stats->lock);
	stats->in_flight--;
	if (aborted) {
		stats->aborted++;
		stats->last_abort_ms = mock_clock_ms();
	}
	pthread_mutex_unlock(&stats->lock);
}

void mock_stats_connection(struct mock_stats *stats, bool opened)
{
	pthread_mutex_lock(&stats->lock);
	if (opened) {
		stats->opened++;
		stats->open++;
	} else {
		stats->closed++;
		stats->open--;
		stats->last_close_ms = mock_clock_ms();
	}
	pthread_mutex_unlock(&stats->lock);
}

void mock_stats_record(struct mock_stats *stats, const char *method, const char *path,
		       const char *headers, size_t headers_len, const char *body, size_t body_len,
		       long long arrival_ms)
{
	size_t method_len = strlen(method) + 1;
	size_t path_len = strlen(path) + 1;
	struct mock_stats_entry *entry;
	struct mock_stats_entry *old;
	char *p;

	if (body_len > MOCK_STATS_BODY_MAX)
		body_len = MOCK_STATS_BODY_MAX;
	/* the copy is made outside the lock: request threads only queue for the pointer swap */
	entry = malloc(sizeof *entry + method_len + path_len + headers_len + body_len);
	if (entry == NULL)
		return;
	p = (char *)(entry + 1);
	entry->method = memcpy(p, method, method_len);
	p += method_len;
	entry->path = memcpy(p, path, path_len);
	p += path_len;
	entry->headers = headers_len ? memcpy(p, headers, headers_len) : p;
	entry->headers_len = headers_len;
	p += headers_len;
	entry->body = body ? (body_len ? memcpy(p, body, body_len) : p) : NULL;
	entry->body_len = body_len;
	entry->ms = arrival_ms;

	pthread_mutex_lock(&stats->lock);
	old = stats->log[stats->log_next];
	stats->log[stats->log_next] = entry;
	stats->log_next = (stats->log_next + 1) % MOCK_STATS_LOG;
	pthread_mutex_unlock(&stats->lock);
	free(old);
}

/* A logged body: its JSON when it parses, else the raw text, else a note for bytes that are not UTF-8. */
static json_t *mock_stats_body_json(const struct mock_stats_entry *entry)
{
	char err[160];
	json_t *value;

	if (entry->body == NULL || entry->body_len == 0)
		return json_null();
	value = mock_json_parse(entry->body, entry->body_len, err, sizeof err);
	if (value == NULL)
		value = json_stringn(entry->body, entry->body_len);
	if (value == NULL)
		value = json_sprintf("<%zu bytes, not UTF-8>", entry->body_len);
	return value;
}

static json_t *mock_stats_headers_json(const struct mock_stats_entry *entry)
{
	json_t *headers = json_object();
	const char *p = entry->headers;
	const char *end = entry->headers + entry->headers_len;

	while (headers != NULL && p < end) {
		const char *name = p;
		const char *value = name + strlen(name) + 1;
		json_t *text = json_string(value);

		/* a header value that is not UTF-8 is shown as null rather than dropped */
		json_object_set_new(headers, name, text ? text : json_null());
		p = value + strlen(value) + 1;
	}
	return headers;
}

static json_t *mock_stats_ms_json(long long ms)
{
	return ms < 0 ? json_null() : json_integer(ms);
}

json_t *mock_stats_json(struct mock_stats *stats)
{
	json_t *out = NULL;
	json_t *by_path = json_object();
	json_t *log = json_array();
	json_t *last = json_null();
	const struct mock_stats_entry *newest;
	size_t i;

	if (by_path == NULL || log == NULL)
		goto fail;
	/* built under the lock for a consistent picture; /_mock/stats is rare, requests wait at most ~50 body parses */
	pthread_mutex_lock(&stats->lock);
	for (i = 0; i < stats->n_paths; i++)
		json_object_set_new(by_path, stats->paths[i].path, json_integer((json_int_t)stats->paths[i].count));
	if (stats->other_paths > 0)
		json_object_set_new(by_path, "(other)", json_integer((json_int_t)stats->other_paths));
	for (i = 0; i < MOCK_STATS_LOG; i++) {
		const struct mock_stats_entry *entry = stats->log[(stats->log_next + i) % MOCK_STATS_LOG];

		if (entry == NULL)
			continue;
		json_array_append_new(log, json_pack("{s:s, s:s, s:o, s:I}", "method", entry->method,
						     "path", entry->path, "body", mock_stats_body_json(entry),
						     "ms", (json_int_t)entry->ms));
	}
	newest = stats->log[(stats->log_next + MOCK_STATS_LOG - 1) % MOCK_STATS_LOG];
	if (newest != NULL) {
		json_decref(last);
		last = json_pack("{s:s, s:s, s:o, s:o}", "method", newest->method, "path", newest->path,
				 "headers", mock_stats_headers_json(newest), "body", mock_stats_body_json(newest));
	}
	out = json_pack("{s:s, s:I, s:O, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:O, s:O}",
			"name", stats->name,
			"requests", (json_int_t)stats->requests,
			"by_path", by_path,
			"in_flight", (json_int_t)stats->in_flight,
			"connections_opened", (json_int_t)stats->opened,
			"connections_closed", (json_int_t)stats->closed,
			"open_connections", (json_int_t)stats->open,
			"aborted", (json_int_t)stats->aborted,
			"last_abort_ms", mock_stats_ms_json(stats->last_abort_ms),
			"last_close_ms", mock_stats_ms_json(stats->last_close_ms),
			"now_ms", (json_int_t)mock_clock_ms(),
			"last_request", last ? last : json_null(),
			"requests_log", log);
	pthread_mutex_unlock(&stats->lock);
fail:
	json_decref(by_path);
	json_decref(log);
	json_decref(last);
	return out;
}

void mock_stats_reset(struct mock_stats *stats)
{
	pthread_mutex_lock(&stats->lock);
	mock_stats_clear(stats);
	pthread_mutex_unlock(&stats->lock);
}
