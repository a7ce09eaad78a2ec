/* end_reason.h — why an exchange ended: one word on its access log line and one label of detour_request_ends_total. */
#ifndef DETOUR_END_REASON_H
#define DETOUR_END_REASON_H

/*
 * Every exchange ends with exactly one reason (haproxy's SF_ERR_* in spirit).
 * Later events may replace an earlier reason where they change the story: a
 * stream answered and then cut, or left by its client.
 */
enum end_reason {
	END_NONE,           /* not decided yet; never logged as such */
	END_ANSWERED,       /* an upstream's answer at the full level went to the client */
	END_DEGRADED,       /* answered below the full level: a reduced or minimal target, or the offline message */
	END_CACHE_HIT,      /* answered from the cache (serve_fresh or the cached level) */
	END_PASSED_THROUGH, /* an upstream's error that is the client's own (400, 404, ...) was passed on */
	END_LOCAL,          /* detour answered itself: status pages, /metrics, /v1/models, the admin API */
	END_REFUSED,        /* detour refused the request before any upstream call: auth, size, JSON, model, URL */
	END_ALL_FAILED,     /* every target failed or was passed over (502/503 with the attempts) */
	END_DEADLINE,       /* request_timeout passed before an answer (504) */
	END_CLIENT_GONE,    /* the client closed the connection before the answer was complete */
	END_STREAM_CUT,     /* a committed stream broke off upstream; the client got an error event */
	END_CONTINUED,      /* a committed stream broke off and went on, whole, from another target (streams.on_cut) */
	END_SHUTDOWN,       /* still open when the drain timeout passed (503, or a stream ended early) */
	END_INTERNAL,       /* detour could not build its answer (out of memory: 500) */
	END_REASONS
};

/* The reason's word ("answered", "client_gone", ...); "none" for END_NONE. */
const char *end_reason_name(enum end_reason r);

#endif
