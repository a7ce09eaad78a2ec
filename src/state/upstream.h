/* upstream.h — one upstream at run time: the URLs and headers detour sends it, and the state every worker shares. */
#ifndef DETOUR_UPSTREAM_H
#define DETOUR_UPSTREAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "breaker.h"
#include "config.h"
#include "dialect.h"
#include "request.h"
#include "sharedstate.h"

/* What another instance should hear about an upstream (state/shared.c listens). */
enum upstream_event {
	UPSTREAM_EVENT_MOVED,    /* the breaker moved here */
	UPSTREAM_EVENT_HOLD,     /* the upstream asked for a pause (Retry-After) */
	UPSTREAM_EVENT_OPERATOR, /* an operator forced the breaker or handed it back */
	UPSTREAM_EVENT_LEASE,    /* the breaker half-opened here: may this instance send the probe? */
};

struct upstream;

/* Called on the thread that caused the event, outside the upstream's lock. */
typedef void upstream_observer_fn(void *arg, struct upstream *u, enum upstream_event ev);

/* Who may send a half-open probe when instances share their breakers. */
enum upstream_lease {
	UPSTREAM_LEASE_OFF,       /* nothing shared, or Redis is down: this instance decides alone */
	UPSTREAM_LEASE_NONE,      /* ask before probing */
	UPSTREAM_LEASE_ASKED,     /* asked; no probe until the answer */
	UPSTREAM_LEASE_MINE,      /* this instance probes */
	UPSTREAM_LEASE_ELSEWHERE, /* another instance probes; its verdict will come */
};

struct upstream_error {
	unsigned status;          /* 0: no HTTP status */
	char message[160];        /* key-free */
	uint64_t at_wall_ms;      /* 0: never */
};

struct upstream {
	const struct config_upstream *cfg;
	const struct dialect *dialect;    /* what it speaks, resolved once from cfg->provider */
	char *url_chat;
	char *url_completions;
	char *url_embeddings;
	char *url_responses;              /* {base_url}/responses: the Responses API spoken natively */
	char *url_models;
	struct curl_slist *headers;       /* for a POST of JSON */
	struct curl_slist *probe_headers; /* for a GET */
	const char *const *forward;       /* client headers sent on: cfg's forward_headers, else the dialect's */

	/* Shared by every worker. */
	atomic_uint_fast64_t requests;    /* calls made */
	atomic_uint_fast64_t successes;
	atomic_uint_fast64_t failures;    /* upstream faults */
	atomic_uint_fast64_t transitions[3][3]; /* breaker moves, [from][to] */
	pthread_mutex_t lock;             /* guards what follows */
	struct upstream_error last_error;
	struct breaker breaker;
	uint64_t health_at_wall_ms;       /* last active health check; 0: none yet */
	bool health_ok;
	char health_error[160];
	char origin[SHAREDSTATE_NAME_MAX]; /* the instance whose state the breaker took last; "": this one */

	/* Set before the workers start (state/shared.c), then only read. */
	upstream_observer_fn *observer;
	void *observer_arg;
	atomic_int lease;                 /* enum upstream_lease */
};

/* What a finished call tells the breaker. */
enum upstream_verdict {
	UPSTREAM_ANSWERED,  /* a 2xx, or an answer that was not the upstream's fault */
	UPSTREAM_FAULT,     /* what fallback_on names */
	UPSTREAM_NO_VERDICT /* the call ended without saying anything about the upstream */
};

/* A consistent copy of everything /circuits and /health show. */
struct upstream_view {
	enum breaker_state state;
	enum breaker_mode mode;
	unsigned failures_in_window;
	unsigned consecutive_failures;
	uint64_t requests;
	uint64_t successes;
	uint64_t failures;
	struct upstream_error last_error;
	uint64_t opened_at_wall_ms;     /* 0: never opened */
	uint64_t retry_at_wall_ms;      /* open: when it half-opens; else 0 */
	uint64_t hold_until_wall_ms;    /* a Retry-After pause still running; else 0 */
	uint64_t cooldown_ms;
	unsigned probes_in_flight;
	uint64_t health_at_wall_ms;
	bool health_ok;
	char health_error[160];
	char origin[SHAREDSTATE_NAME_MAX]; /* "": the state is this instance's own */
};

/* Builds u from cfg. Returns 0, or -1 with err filled. */
int upstream_init(struct upstream *u, const struct config_upstream *cfg, char *err, size_t errlen);
void upstream_free(struct upstream *u);

/* Looks up the client's header name (any case): its value, or NULL when absent. */
typedef const char *(*upstream_client_header)(void *arg, const char *name);

/*
 * The header lines of one call to u that carries the client's headers meant
 * for it (u->forward, looked up with lookup): *out is NULL when the client
 * sent none of them (u->headers serve as they are), else a new list, u's
 * lines and the client's, that the caller frees with upstream_call_headers_free
 * once the call is over. A value that is empty, longer than
 * HEADERPASS_VALUE_MAX or holds a control byte is not sent. Returns 0, or -1
 * when out of memory (*out NULL).
 */
int upstream_call_headers(const struct upstream *u, upstream_client_header lookup, void *arg,
			  struct curl_slist **out);

/* The line that keeps curl from asking for "100 Continue", first of u->headers;
 * curl asks only for a body over UPSTREAM_EXPECT_THRESHOLD bytes (its own
 * EXPECT_100_THRESHOLD). */
#define UPSTREAM_NO_EXPECT "Expect:"
#define UPSTREAM_EXPECT_THRESHOLD ((size_t)1024 * 1024)

/* The lines to hand curl for a body of body_len bytes, from list (u->headers
 * or a list from upstream_call_headers): without the leading UPSTREAM_NO_EXPECT
 * when the body is too small for curl to ask, since curl compares every line
 * it is given with each header it writes itself. Borrowed from list. */
const struct curl_slist *upstream_headers_for_body(const struct curl_slist *list, size_t body_len);

/* Frees a list from upstream_call_headers, wiping its lines (they hold u's key); NULL is fine. */
void upstream_call_headers_free(struct curl_slist *list);

/* After a reload: u (just initialised) takes from's counters, last error,
 * breaker and last health check, when both name the same server (same
 * base_url); otherwise u starts afresh. from may still be in use. */
void upstream_carry(struct upstream *u, struct upstream *from);

/* The URL for a request kind. */
const char *upstream_url(const struct upstream *u, enum request_kind kind);

/* May a call go to u now (its breaker, a Retry-After pause)? See breaker_admit. */
enum breaker_admission upstream_admit(struct upstream *u, uint64_t now, enum breaker_reason *why);

/* An early probe through an open breaker or a hold? See breaker_admit_early. */
enum breaker_admission upstream_admit_early(struct upstream *u, uint64_t now);

/* A probe's answer began (a stream's first content): the upstream is back, so
 * its breaker closes and the probe's slot is free before the answer ends. The
 * call is still counted by upstream_record, then with was_probe false. */
void upstream_probe_answered(struct upstream *u, uint64_t now);

/* True while u's breaker is not closed (open, half-open) in auto mode: the
 * default health checks run only then. */
bool upstream_needs_health(struct upstream *u, uint64_t now);

/* The floor of the default health-check interval (breaker.cooldown / 4). */
#define UPSTREAM_HEALTH_MIN_MS 100

/* Time between u's health checks: health_check.interval when it is set, else
 * breaker.cooldown / 4 (at least UPSTREAM_HEALTH_MIN_MS); 0 with health_check: off. */
uint64_t upstream_health_interval(const struct upstream *u);

/* True when u is checked whatever its breaker says (health_check is a mapping);
 * otherwise it is checked only while upstream_needs_health. */
bool upstream_health_always(const struct upstream *u);

/* When u could next take a call after a rejection (monotonic ms; 0: unknown). */
uint64_t upstream_next_admission(struct upstream *u, uint64_t now);

/*
 * Counts one finished call and tells the breaker. success: a 2xx. status and
 * error describe a fault; retry_after_ms >= 0 when the upstream asked for a pause.
 */
void upstream_record(struct upstream *u, uint64_t now, enum upstream_verdict verdict, bool was_probe,
		     bool success, unsigned status, int64_t retry_after_ms, const char *error);

/* An active health check's result; a failure's status (0: none) and words
 * become the last error. */
void upstream_health(struct upstream *u, uint64_t now, bool ok, unsigned status, const char *error);

/* An operator forces the breaker (or hands it back with BREAKER_AUTO). */
void upstream_set_mode(struct upstream *u, enum breaker_mode mode, uint64_t now);

void upstream_view(struct upstream *u, uint64_t now, struct upstream_view *out);

/* Masks with '*' the upstream's key wherever it stands in s, and a first part
 * of it (4 bytes or more) left at the end of a text that was cut short: any
 * upstream text detour keeps or passes on goes through it first. */
void upstream_redact(const struct upstream *u, char *s);

/* upstream_redact over len bytes that may hold NULs (a body passed on). */
void upstream_redact_bytes(const struct upstream *u, char *s, size_t len);

/* True when upstream_redact_bytes would change s[0..len): so a text that
 * holds no key is passed on without a copy to mask. */
bool upstream_redacts(const struct upstream *u, const char *s, size_t len);

/*
 * Writes into out a short, key-free description of a failed HTTP answer: the
 * upstream's own error message when its body has one (never for 401 and 403,
 * whose messages can quote part of a key), else the status.
 */
void upstream_describe_status(const struct upstream *u, unsigned status, const char *body, size_t len,
			      char *out, size_t outlen);

/* Applies another instance's state to u's breaker (sharedstate_merge) without
 * telling the observer; the state's instance becomes u's origin when it changed
 * something. Returns true when it did. */
bool upstream_merge(struct upstream *u, const struct sharedstate *s, uint64_t now);

/* What u's breaker says now, for other instances (sharedstate_describe). */
void upstream_describe(struct upstream *u, uint64_t now, const char *instance, bool operator_choice,
		       struct sharedstate *out);

/* Sets who may probe u (enum upstream_lease). */
void upstream_set_lease(struct upstream *u, enum upstream_lease lease);

/* How often u's breaker moved from one state to another since start (a reload carries it). */
uint64_t upstream_transitions(const struct upstream *u, enum breaker_state from, enum breaker_state to);

#endif
