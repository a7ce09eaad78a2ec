/* request.h — a client's request body, read once in place: what routing needs, and the body each target is sent. */
#ifndef DETOUR_REQUEST_H
#define DETOUR_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum request_kind {
	REQUEST_CHAT,        /* /v1/chat/completions */
	REQUEST_COMPLETIONS, /* /v1/completions */
	REQUEST_EMBEDDINGS,  /* /v1/embeddings */
};

/* Model names longer than this are refused. */
#define REQUEST_MAX_MODEL 256

/*
 * No tree is built: the body is checked and its top-level members read where
 * they lie, so a 100 KB conversation costs one pass over its bytes. A tree is
 * parsed only when something needs one (request_json).
 */
struct request {
	enum request_kind kind;
	const char *body;           /* borrowed: the client's bytes, which outlive the request */
	size_t len;
	char model[REQUEST_MAX_MODEL];
	bool stream;
	bool include_usage;         /* stream_options.include_usage */
	bool has_tools;
	bool has_temperature;
	double temperature;
	int64_t max_tokens;         /* -1 when absent */
	const char *max_tokens_key; /* "max_tokens" or "max_completion_tokens" */
	json_t *root;               /* owned; NULL until request_json parses it */
};

/* Why a body was refused, in OpenAI's words. */
struct request_error {
	char message[256];
	const char *param;  /* NULL or the offending field */
	const char *code;   /* NULL or an OpenAI error code */
};

/* Checks body (borrowed for r's life). Returns 0 with r filled (free with
 * request_free), or -1 with e filled and r untouched. */
int request_parse(struct request *r, enum request_kind kind, const char *body, size_t len,
		  struct request_error *e);

void request_free(struct request *r);

/* The body as a JSON tree, parsed on first use and kept (a \u0000 in a string
 * is kept: read strings with their length); NULL when out of memory, or when
 * jansson cannot hold a value request_parse let through (a number past a
 * double or json_int_t, a lone surrogate escape). */
json_t *request_json(struct request *r);

/* What a target changes in the body. */
struct request_changes {
	const char *model;    /* NULL: keep the client's */
	unsigned max_tokens;  /* 0: no cap; else the body carries at most this */
	unsigned drop;        /* CONFIG_DROP_* features removed */
};

/* True when the changes leave the body as the client sent it. */
bool request_unchanged(const struct request *r, const struct request_changes *c);

/* The body with the changes applied, every other byte as the client wrote it,
 * as a new NUL-terminated string the caller frees; NULL when out of memory. */
char *request_rewrite(const struct request *r, const struct request_changes *c, size_t *len);

const char *request_kind_path(enum request_kind kind);

#endif
