/* headerpass.h — which HTTP headers cross detour: an upstream's answer headers to the client, a client's headers to an upstream (pure). */
#ifndef DETOUR_HEADERPASS_H
#define DETOUR_HEADERPASS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The answer side is an allow-list: the provider headers an SDK or a client
 * reads (rate limits, processing time, API version, the request id). Anything
 * else, hop-by-hop and framing headers above all (Connection, Keep-Alive,
 * Transfer-Encoding, Content-Length), is detour's own business with the client.
 */
enum headerpass_answer {
	HEADERPASS_DROP,        /* not the client's */
	HEADERPASS_KEEP,        /* passed under its own name */
	HEADERPASS_REQUEST_ID,  /* the upstream's request id: x-detour-upstream-request-id (x-request-id is detour's) */
};

/* The client-facing name of the upstream's request id. */
#define HEADERPASS_UPSTREAM_REQUEST_ID "x-detour-upstream-request-id"

/* Longest header value passed either way; a longer one is not passed. */
#define HEADERPASS_VALUE_MAX 1024

/* What becomes of an upstream answer header called name (len bytes, any case):
 * x-ratelimit-*, anthropic-ratelimit-*, openai-processing-ms, openai-version
 * are kept; x-request-id and request-id (Anthropic's) are the request id. */
enum headerpass_answer headerpass_answer(const char *name, size_t len);

/* headerpass_answer(name, len) != HEADERPASS_DROP: the engine's filter. */
bool headerpass_answer_kept(const char *name, size_t len);

/* Receives one header for the client: its client-facing name and its value
 * (writable in place, a NUL-terminated copy: the receiver may redact it). */
typedef void (*headerpass_add)(void *arg, const char *name, char *value);

/*
 * Goes through lines, the "name: value\n" block the engine kept, and gives
 * add each header the client gets: kept ones under their own name, the
 * request id under HEADERPASS_UPSTREAM_REQUEST_ID (the first one only), in
 * order; a line whose value may not go out (headerpass_value_ok) or that is
 * not "name: value" is skipped.
 */
void headerpass_answer_lines(const char *lines, headerpass_add add, void *arg);

/* True when value (len bytes) may go out in a header: not empty, at most
 * HEADERPASS_VALUE_MAX bytes, no control byte but tab (no CR or LF above all). */
bool headerpass_value_ok(const char *value, size_t len);

/*
 * Writes the request header line "name: value" into out (outlen bytes) for
 * a client header forwarded upstream. Returns 0, or -1 when the value may
 * not go out (headerpass_value_ok) or the line does not fit.
 */
int headerpass_forward_line(const char *name, const char *value, char *out, size_t outlen);

#endif
