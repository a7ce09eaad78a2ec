/* config.h — the daemon's configuration: loaded once from YAML, then read-only. */
#ifndef DETOUR_CONFIG_H
#define DETOUR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

enum config_provider {
	CONFIG_PROVIDER_OPENAI,    /* any OpenAI-compatible API */
	CONFIG_PROVIDER_ANTHROPIC, /* the Messages API, translated */
};

/* How an upstream serves a client of the Responses API (POST /v1/responses). */
enum config_responses {
	CONFIG_RESPONSES_CHAT,   /* translated into a chat completion (and on into the provider's dialect) */
	CONFIG_RESPONSES_NATIVE, /* forwarded as it is to {base_url}/responses */
};

/* What a committed stream that breaks off becomes (streams.on_cut). */
enum config_on_cut {
	CONFIG_ON_CUT_INHERIT,  /* a route's: what the top-level streams section says */
	CONFIG_ON_CUT_ERROR,    /* an error event and [DONE], as always */
	CONFIG_ON_CUT_CONTINUE, /* the same client stream goes on from the next target */
};

/* How an OpenAI-compatible upstream is asked to continue a cut answer (prefill). */
enum config_prefill {
	CONFIG_PREFILL_INSTRUCT, /* the partial as an assistant message, then an instruction to go on */
	CONFIG_PREFILL_NATIVE,   /* the partial as the last assistant message, as is (vLLM's continue_final_message) */
};

/* The streams section, top level or a route's (0 fields of a route's: inherit). */
struct config_streams {
	enum config_on_cut on_cut;
	unsigned max_continuations;
	bool cache_continued;       /* top level only: the cache may keep a continued answer */
};

enum config_strategy {
	CONFIG_STRATEGY_FALLBACK, /* targets in order */
	CONFIG_STRATEGY_WEIGHTED, /* first drawn by weight, then the rest in order */
};

/* Degradation levels, best first; CONFIG_LEVEL_AUTO lets detour choose. */
enum config_level {
	CONFIG_LEVEL_AUTO,
	CONFIG_LEVEL_FULL,
	CONFIG_LEVEL_REDUCED,
	CONFIG_LEVEL_MINIMAL,
	CONFIG_LEVEL_CACHED,
	CONFIG_LEVEL_OFFLINE,
};

/* Who may read the status pages /circuits and /metrics (/health stays open for probes). */
enum config_status_access {
	CONFIG_STATUS_OPEN,   /* anyone */
	CONFIG_STATUS_CLIENT, /* a client key (or the admin token) */
	CONFIG_STATUS_ADMIN,  /* the admin token */
};

/* A route lists at most this many targets (and as many reduced ones). */
#define CONFIG_MAX_TARGETS 32
/* An upstream's forward_headers lists at most this many names, each at most CONFIG_HEADER_NAME_MAX bytes. */
#define CONFIG_MAX_FORWARD 16
#define CONFIG_HEADER_NAME_MAX 64
#define CONFIG_STR_(x) #x
#define CONFIG_STR(x) CONFIG_STR_(x)

/* Features a degradation level removes from a request. */
#define CONFIG_DROP_TOOLS  0x1u
#define CONFIG_DROP_STREAM 0x2u

struct config_timeouts {
	uint64_t connect_ms;    /* TCP (and TLS) connect */
	uint64_t first_byte_ms; /* request sent → first response byte */
	uint64_t idle_ms;       /* longest silence inside a response */
	uint64_t total_ms;      /* one attempt, start to end */
};

struct config_retries {
	unsigned attempts;      /* extra tries on the same upstream */
	uint64_t base_delay_ms;
	uint64_t max_delay_ms;
};

struct config_breaker {
	unsigned failures;      /* recoverable failures within window that open it */
	uint64_t window_ms;
	uint64_t cooldown_ms;
	unsigned half_open_probes;
};

struct config_health_check {
	bool enabled;           /* the key is a mapping: checks at interval, whatever the breaker */
	bool off;               /* health_check: off; neither set: checks while the breaker is not closed */
	uint64_t interval_ms;
	uint64_t timeout_ms;
};

struct config_upstream {
	char *name;
	size_t index;                 /* position in config.upstreams */
	enum config_provider provider;
	char *base_url;               /* no trailing slash */
	char *api_key;                /* resolved secret, NULL when none; never logged */
	char *anthropic_version;      /* sent as anthropic-version */
	unsigned default_max_tokens;  /* anthropic needs max_tokens; used when the request has none */
	bool forward_set;             /* forward_headers was written: it replaces the dialect's list */
	char **forward_headers;       /* client headers sent on to it, as written; NULL-terminated */
	size_t nforward_headers;
	enum config_responses responses; /* how it serves /v1/responses */
	enum config_prefill prefill;  /* how it is asked to continue a cut stream */
	struct config_timeouts timeouts;
	struct config_retries retries;
	struct config_breaker breaker;
	struct config_health_check health_check;
};

struct config_target {
	const struct config_upstream *upstream;
	char *model;        /* NULL: the client's model goes through unchanged */
	unsigned max_tokens; /* 0: no cap */
	unsigned weight;    /* weighted strategy only; default 1 */
};

struct config_route {
	char *name;                   /* what clients put in "model", or "*" */
	enum config_strategy strategy;
	struct config_target *targets;
	size_t ntargets;
	struct config_target *reduced; /* cheaper targets from the reduced level down; may be empty */
	size_t nreduced;
	struct config_streams streams; /* overrides of the top-level streams section (0: inherit) */
};

/* What fallback_on names: outcomes on which detour moves to the next target. */
struct config_fallback {
	bool connect;   /* the connection could not be made */
	bool timeout;   /* connect, first-byte, idle or total timeout */
	bool protocol;  /* reset, cut or malformed answer from the upstream */
	uint8_t status[600 / 8]; /* bit per HTTP status 0..599 */
};

struct config_level_limits {
	unsigned max_tokens; /* 0: no cap */
	unsigned drop;       /* CONFIG_DROP_* bits */
};

struct config {
	char *path;

	struct {
		char *host;               /* as written, brackets removed for IPv6 */
		uint16_t port;
		unsigned workers;         /* resolved: never 0 */
		size_t max_body;
		unsigned max_connections;
		uint64_t request_timeout_ms;
		uint64_t client_timeout_ms; /* idle client, and whole request body */
		uint64_t header_timeout_ms; /* request line and headers, from accept */
		unsigned max_connections_per_ip; /* 0: no cap */
		uint64_t drain_timeout_ms;  /* shutdown waits this long for exchanges */
		uint64_t sse_heartbeat_ms;  /* comment line on a silent stream; 0: none */
		size_t max_response;       /* cap on an upstream's non-streamed answer */
		char *pid_file;            /* written at start, removed at exit; NULL: none */
		uint64_t max_retry_after_ms; /* cap on the Retry-After of a 503 detour makes itself */
	} server;

	struct {
		enum log_level level;
		enum log_format format;   /* logfmt or json lines */
		bool access;              /* one line a request */
	} log;

	struct {
		char **client_keys;       /* NULL when client auth is off */
		size_t nclient_keys;
		char *admin_token;        /* NULL: every /admin/ path answers 404 */
		enum config_status_access status; /* who may read /circuits and /metrics */
	} auth;

	struct config_upstream *upstreams;
	size_t nupstreams;

	struct config_route *routes;  /* file order, "*" included */
	size_t nroutes;
	const struct config_route *catch_all; /* the "*" route, or NULL */

	struct config_fallback fallback_on;

	struct config_streams streams; /* on_cut never CONFIG_ON_CUT_INHERIT here */

	struct {
		enum config_level mode;
		struct config_level_limits reduced;
		struct config_level_limits minimal;
		struct {
			size_t entries;
			uint64_t ttl_ms;
			size_t max_bytes;
			bool serve_fresh;
		} cache;
		char *offline_message;    /* NULL: no offline level */
	} degradation;

	struct {
		struct {
			size_t entries;       /* 0: nothing is kept, previous_response_id is refused */
			size_t max_bytes;
			uint64_t ttl_ms;
		} store;
	} responses;

	struct {
		char *redis;              /* "redis://HOST:PORT/DB" or "unix:/path"; NULL: nothing is shared */
		char *password;           /* resolved secret, NULL when none; never logged */
		char *prefix;             /* of every Redis key and channel; NULL: "detour:" */
		uint64_t timeout_ms;      /* one Redis operation's limit */
	} shared;
};

/* Frees cfg and wipes the secrets it holds; harmless on NULL. */
void config_free(struct config *cfg);

/* The value names of provider and degradation level, in enum order, NULL-terminated. */
extern const char *const config_provider_names[];
extern const char *const config_responses_names[];
extern const char *const config_on_cut_names[];
extern const char *const config_prefill_names[];
extern const char *const config_level_names[];

/* Can cfg serve level as the degradation floor? cached needs a cache,
 * offline an offline_message; every other level (and auto) can. */
bool config_level_servable(const struct config *cfg, enum config_level level);

/* The upstream called name, or NULL. */
const struct config_upstream *config_find_upstream(const struct config *cfg, const char *name);
/* What route's streams section comes to: its own keys over the top level's. */
struct config_streams config_route_streams(const struct config *cfg, const struct config_route *route);

/* True when fallback_on names this HTTP status. */
bool config_fallback_status(const struct config_fallback *fb, unsigned status);

/* Names used in messages and status pages. */
const char *config_level_name(enum config_level level);
const char *config_provider_name(enum config_provider provider);

#endif
