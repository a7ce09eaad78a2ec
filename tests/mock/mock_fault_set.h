/* mock_fault_set.h — one fault set: its keys, parsed from the command line or JSON, shown as JSON and in --help. */
#ifndef DETOUR_MOCK_FAULT_SET_H
#define DETOUR_MOCK_FAULT_SET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

/* Stream content pieces when the set does not say. */
#define MOCK_FAULT_SET_DEFAULT_CHUNKS 5

/* Most answer headers one set configures; each name under 64 bytes, each value under 192. */
#define MOCK_FAULT_SET_HEADERS_MAX 12

/*
 * One fault set, immutable once published: requests hold a reference for their
 * whole life, so a POST /_mock/faults never changes a request half-way.
 * Each field's "off" value is noted; absent JSON keys are off.
 */
struct mock_fault_set {
	long long status;              /* 0 off: answer this status with an error body */
	char *retry_after;             /* NULL off: Retry-After on injected errors */
	long long retry_after_ms;      /* -1 off: retry-after-ms on injected errors */
	long long latency_ms;          /* 0 off: delay before the response headers */
	bool hang;                     /* never answer; hold until the client leaves */
	bool reset;                    /* plain: part of the body then RST; stream: RST after the first event */
	bool malformed;                /* plain: truncated JSON; stream: one broken event, then the end */
	long long cut_after;           /* -1 off: stream RST after N content events */
	long long stall_after;         /* -1 off: stream goes silent after N content events */
	long long stream_error_after;  /* -1 off: stream error event after N content events */
	double fail_rate;              /* 0 off: probability of answering fail_status */
	long long fail_status;         /* 500 unless set */
	long long chunks;              /* content pieces in a stream; MOCK_FAULT_SET_DEFAULT_CHUNKS unless set */
	long long chunk_delay_ms;      /* 0 off: pause between stream events */
	char *content;                 /* NULL: the mock's own content */
	long long times;               /* 0: forever; N: the set applies to the next N API requests */
	json_t *headers;               /* NULL off: an object of header name -> string, sent on every API answer */
	char *thinking;                /* NULL off: Anthropic answers open with a thinking block of this text */
	long long cache_read_tokens;   /* 0 off: Anthropic usage.cache_read_input_tokens */
	long long cache_creation_tokens; /* 0 off: Anthropic usage.cache_creation_input_tokens */
	long long tool_calls;          /* 1 unless set: tool_use blocks in an Anthropic tool answer */
	atomic_uint refs;
};

/* A new set with every fault off, one reference held by the caller; NULL without memory. */
struct mock_fault_set *mock_fault_set_new(void);

/* Drops one reference; the last one frees the set. NULL is allowed. */
void mock_fault_set_release(struct mock_fault_set *set);

/*
 * For a command-line option (with its leading "--"): 1 if it is a fault option
 * that takes a value, 0 if it is a fault flag (--hang), -1 if it is not a fault option.
 */
int mock_fault_set_option_arity(const char *option);

/*
 * Applies one command-line fault option ("--latency", "200ms"; value NULL for a
 * flag) to set; --header "Name: value" adds one header each time it is given. Returns 0, or -1 with a message naming the option in err.
 */
int mock_fault_set_option(struct mock_fault_set *set, const char *option, const char *value,
			  char *err, size_t errlen);

/*
 * Builds a new set from a JSON object (absent or null keys off). Returns the
 * set (one reference), or NULL with a message naming the key in err: not an
 * object, an unknown key, a value of the wrong type or out of range.
 */
struct mock_fault_set *mock_fault_set_from_json(const json_t *object, char *err, size_t errlen);

/* The active keys of set as a JSON object (an empty object: no fault). New reference, NULL without memory. */
json_t *mock_fault_set_json(struct mock_fault_set *set);

/* Prints the fault options, one a line, for --help. */
void mock_fault_set_usage(FILE *out);

#endif

