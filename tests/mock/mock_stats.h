/* mock_stats.h — what the mock has seen: request and connection counters, the last requests received, as /_mock/stats shows them. */
#ifndef DETOUR_MOCK_STATS_H
#define DETOUR_MOCK_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Requests kept for requests_log; the newest is last_request. */
#define MOCK_STATS_LOG 50
/* Bytes of a body kept in the log; a longer one is kept cut (and then shows as a raw string). 50 x 256 KiB caps the log near 13 MiB. */
#define MOCK_STATS_BODY_MAX (256u << 10)
/* Distinct paths counted in by_path; later ones count under "(other)" so a scanner cannot grow the table. */
#define MOCK_STATS_PATHS 64

struct mock_stats;

/* New, zeroed counters for the mock called name (borrowed: must outlive the stats). NULL without memory. */
struct mock_stats *mock_stats_new(const char *name);

void mock_stats_free(struct mock_stats *stats);

/* An API request's headers arrived: counts it under path and as in flight. */
void mock_stats_request_begin(struct mock_stats *stats, const char *path);

/* That request is over; aborted when the client left before the end of its response. */
void mock_stats_request_end(struct mock_stats *stats, bool aborted);

/* A TCP connection was opened (true) or closed (false). */
void mock_stats_connection(struct mock_stats *stats, bool opened);

/*
 * Keeps a copy of one received request for requests_log and last_request:
 * headers is "name\0value\0" pairs, names lowercased, headers_len bytes;
 * body may be NULL. arrival_ms is on mock_clock_ms().
 */
void mock_stats_record(struct mock_stats *stats, const char *method, const char *path,
		       const char *headers, size_t headers_len, const char *body, size_t body_len,
		       long long arrival_ms);

/* Everything above as the /_mock/stats JSON object. New reference, NULL without memory. */
json_t *mock_stats_json(struct mock_stats *stats);

/* Zeroes counters, log and last_request; gauges (in_flight, open_connections) keep counting what is live. */
void mock_stats_reset(struct mock_stats *stats);

#endif
