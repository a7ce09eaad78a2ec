/* config.c — reads detour's YAML configuration into a struct config, checking every key and value on the way. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"
#include "units.h"

#define CONFIG_FILE_MAX        (16u << 20) /* a configuration file past this is refused */
#define CONFIG_SECRET_FILE_MAX (1u << 20)  /* as is a key or token file */
#define CONFIG_COUNT_MAX       2147483647u /* every count fits an int, for JSON and libraries */
#define CONFIG_WORKERS_MAX     256u
#define CONFIG_RETRIES_MAX     100u
#define CONFIG_NAME_MAX        64u         /* upstream names go into headers, URLs and metrics */
#define CONFIG_PATH_MAX        512u        /* longest key path in a message; longer ones are cut */
#define CONFIG_SHOW_MAX        64u         /* longest value quoted in a message */
#define CONFIG_HINT_MAX        32u         /* keys longer than this get no "did you mean" */

/*
 * Durations are capped at 576h (24 days) so that every timer in the daemon can
 * hold milliseconds in an int (poll, curl_multi_poll) without a check of its own.
 */
#define CONFIG_DURATION_MAX (UINT64_C(576) * 3600 * 1000)

/* One load: where messages go and which key is being read. */
struct config_reader {
	const char *file;             /* FILE in messages */
	const char *dir;              /* relative *_file paths resolve here; NULL: working directory */
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	char path[CONFIG_PATH_MAX];   /* "upstreams.groq.timeouts": the key being read */
	size_t pathlen;
};

static const char *const config_root_keys[] = {
	"server", "log", "auth", "upstreams", "models", "fallback_on", "degradation", NULL,
};
static const char *const config_server_keys[] = {
	"listen", "workers", "max_body", "max_connections", "request_timeout",
	"client_timeout", "header_timeout", "max_connections_per_ip", "drain_timeout", "max_response",
	"sse_heartbeat", NULL,
};
static const char *const config_log_keys[] = { "level", "access", NULL };
static const char *const config_auth_keys[] = {
	"client_keys_file", "admin_token_env", "admin_token_file", "status", NULL,
};
static const char *const config_upstream_keys[] = {
	"provider", "base_url", "api_key_env", "api_key_file", "timeouts", "retries",
	"breaker", "health_check", "anthropic_version", "max_tokens", NULL,
};
static const char *const config_timeouts_keys[] = { "connect", "first_byte", "idle", "total", NULL };
static const char *const config_retries_keys[] = { "attempts", "base_delay", "max_delay", NULL };
static const char *const config_breaker_keys[] = {
	"failures", "window", "cooldown", "half_open_probes", NULL,
};
static const char *const config_health_keys[] = { "interval", "timeout", NULL };
static const char *const config_route_keys[] = { "strategy", "targets", "reduced", NULL };
static const char *const config_target_keys[] = { "upstream", "model", "max_tokens", "weight", NULL };
static const char *const config_degradation_keys[] = {
	"mode", "reduced", "minimal", "cache", "offline_message", NULL,
};
static const char *const config_limits_keys[] = { "max_tokens", "drop", NULL };
static const char *const config_cache_keys[] = { "entries", "ttl", "max_bytes", "serve_fresh", NULL };

/* Value lists, in enum order. */
static const char *const config_provider_names[] = { "openai", "anthropic", NULL };
static const char *const config_strategy_names[] = { "fallback", "weighted", NULL };
static const char *const config_level_names[] = {
	"auto", "full", "reduced", "minimal", "cached", "offline", NULL,
};
static const char *const config_status_names[] = { "open", "client", "admin", NULL };
static const char *const config_log_level_names[] = { "debug", "info", "warn", "error", NULL };
static const char *const config_drop_names[] = { "tools", "stream", NULL }; /* bit i is 1 << i */

/* fallback_on when the file has none. */
static const char *const config_fallback_default[] = {
	"connect", "timeout", "protocol", "408", "409", "429", "5xx", "401", "403", "404", NULL,
};

/* ---- messages ------------------------------------------------------------- */

static int config_fail(struct config_reader *r, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes "FILE:LINE:COL: path: message" about node into the caller's buffer; returns -1. */
static int config_fail(struct config_reader *r, const yaml_node_t *node, const char *fmt, ...)
{
	char message[512];
	va_list ap;

	if (r->err == NULL || r->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "%s:%zu:%zu: %s%s%s", r->file,
		 node->start_mark.line + 1, node->start_mark.column + 1,
		 r->path, r->pathlen > 0 ? ": " : "", message);
	return -1;
}

static int config_oom(struct config_reader *r, const yaml_node_t *node)
{
	return config_fail(r, node, "out of memory");
}

/*
 * Quotes text for a message: "2x". Control bytes become \xNN and a long value is
 * cut with "...", so a message stays one readable line whatever the file holds.
 */
static const char *config_show(const char *text, char *buf, size_t len)
{
	size_t o = 0;

	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		bool boundary = (*p & 0xc0) != 0x80; /* not inside a UTF-8 character */

		if (o + 10 > len || (boundary && o > CONFIG_SHOW_MAX)) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
		else if (*p == '"' || *p == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\%c", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/*
 * Appends ".key" (or "key" at the top) to the path; returns the length to go
 * back to. Control bytes in a key become '?', so a message stays one line.
 */
static size_t config_path_key(struct config_reader *r, const char *key)
{
	size_t old = r->pathlen;
	int n = snprintf(r->path + old, sizeof r->path - old, "%s%s", old > 0 ? "." : "", key);

	if (n > 0)
		r->pathlen = old + (size_t)n < sizeof r->path ? old + (size_t)n : sizeof r->path - 1;
	for (size_t i = old; i < r->pathlen; i++)
		if ((unsigned char)r->path[i] < 0x20 || r->path[i] == 0x7f)
			r->path[i] = '?';
	return old;
}

/* Appends "[index]" to the path; returns the length to go back to. */
static size_t config_path_index(struct config_reader *r, size_t index)
{
	size_t old = r->pathlen;
	int n = snprintf(r->path + old, sizeof r->path - old, "[%zu]", index);

	if (n > 0)
		r->pathlen = old + (size_t)n < sizeof r->path ? old + (size_t)n : sizeof r->path - 1;
	return old;
}

static void config_path_leave(struct config_reader *r, size_t old)
{
	r->pathlen = old;
	r->path[old] = '\0';
}

/* Levenshtein distance, or UINT_MAX for words too long to bother. */
static unsigned config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[CONFIG_HINT_MAX + 1];

	if (la > CONFIG_HINT_MAX || lb > CONFIG_HINT_MAX)
		return UINT_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Whether candidate is close enough to word to suggest it: at most two edits, and fewer than word has letters. */
static bool config_close(const char *word, const char *candidate)
{
	unsigned d = config_distance(word, candidate);

	return d <= 2 && d < strlen(word);
}

/* ---- nodes ---------------------------------------------------------------- */

static const char *config_kind(yaml_node_type_t type)
{
	switch (type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	default:
		return "a string";
	}
}

static int config_expect(struct config_reader *r, const yaml_node_t *node, yaml_node_type_t type)
{
	if (node->type == type)
		return 0;
	return config_fail(r, node, "expected %s, found %s", config_kind(type), config_kind(node->type));
}

/* A plain "", "~" or "null": YAML's way of writing nothing. Treated as if the key were absent. */
static bool config_is_null(const yaml_node_t *node)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
		if (strcmp((const char *)node->data.scalar.value, nulls[i]) == 0)
			return true;
	return false;
}

/* The text of a scalar node. A NUL inside ("\0" in a quoted string) is refused: C strings would cut there. */
static int config_text(struct config_reader *r, const yaml_node_t *node, const char **text)
{
	*text = ""; /* set on failure too: gcc -O3 cannot see that callers stop then */
	if (config_expect(r, node, YAML_SCALAR_NODE) < 0)
		return -1;
	if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length)
		return config_fail(r, node, "holds a NUL character");
	*text = (const char *)node->data.scalar.value;
	return 0;
}

static bool config_has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

static yaml_node_t *config_node(struct config_reader *r, int index)
{
	return yaml_document_get_node(r->doc, index);
}

/*
 * The value under key in map, or NULL when map is NULL, the key is absent or its
 * value is null. *keynode (when asked) gets the key's node, or NULL when absent.
 */
static yaml_node_t *config_get(struct config_reader *r, const yaml_node_t *map, const char *key,
			       yaml_node_t **keynode)
{
	if (keynode != NULL)
		*keynode = NULL;
	if (map == NULL)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = config_node(r, p->key);
		yaml_node_t *v = config_node(r, p->value);

		if (k->type != YAML_SCALAR_NODE || strcmp((const char *)k->data.scalar.value, key) != 0)
			continue;
		if (keynode != NULL)
			*keynode = k;
		return config_is_null(v) ? NULL : v;
	}
	return NULL;
}

/*
 * Checks a mapping's keys: each a string, none twice, and (when known is not
 * NULL) each one of known. The path is at the mapping. Duplicates are found in
 * O(n^2) compares: fine for the hundreds of models a file may name.
 */
static int config_check_keys(struct config_reader *r, const yaml_node_t *map, const char *const *known)
{
	yaml_node_pair_t *start = map->data.mapping.pairs.start;
	size_t mark = r->pathlen;
	int rc = -1;

	for (yaml_node_pair_t *p = start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = config_node(r, p->key);
		const char *key, *hint = NULL;
		bool found = known == NULL;

		if (k->type != YAML_SCALAR_NODE) {
			config_fail(r, k, "a key must be a string, found %s", config_kind(k->type));
			goto fail;
		}
		if (config_text(r, k, &key) < 0)
			goto fail;
		config_path_key(r, key);
		for (yaml_node_pair_t *q = start; q < p; q++) {
			yaml_node_t *earlier = config_node(r, q->key);

			if (earlier->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)earlier->data.scalar.value, key) == 0) {
				config_fail(r, k, "duplicate key (first at %zu:%zu)",
					    earlier->start_mark.line + 1, earlier->start_mark.column + 1);
				goto fail;
			}
		}
		for (size_t i = 0; !found && known[i] != NULL; i++) {
			if (strcmp(known[i], key) == 0)
				found = true;
			else if (hint == NULL && config_close(key, known[i]))
				hint = known[i];
		}
		if (!found) {
			if (strcmp(key, "<<") == 0)
				config_fail(r, k, "YAML merge keys are not supported; write the keys out");
			else if (hint != NULL)
				config_fail(r, k, "unknown key (did you mean %s?)", hint);
			else
				config_fail(r, k, "unknown key");
			goto fail;
		}
		config_path_leave(r, mark);
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* The mapping under key in *out, keys checked; NULL when absent. The caller has entered key. */
static int config_get_map(struct config_reader *r, const yaml_node_t *parent, const char *key,
			  const char *const *known, yaml_node_t **out)
{
	yaml_node_t *v = config_get(r, parent, key, NULL);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (config_expect(r, v, YAML_MAPPING_NODE) < 0 || config_check_keys(r, v, known) < 0)
		return -1;
	*out = v;
	return 0;
}

/* Fails for a required key: at its key when it is there with no value, else at where (the enclosing node). */
static int config_missing(struct config_reader *r, const yaml_node_t *keynode, const yaml_node_t *where)
{
	if (keynode != NULL)
		return config_fail(r, keynode, "empty (a value is required)");
	return config_fail(r, where, "missing (required)");
}

static char *config_dup(struct config_reader *r, const yaml_node_t *node, const char *s)
{
	char *copy = strdup(s);

	if (copy == NULL)
		config_oom(r, node);
	return copy;
}

/* ---- values --------------------------------------------------------------- */

/* Digits only, at most max. */
static int config_parse_uint(const char *text, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*text == '\0')
		return -1;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return -2;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}

/* A whole number min..max under key; *out is left alone when the key is absent. */
static int config_read_uint(struct config_reader *r, const yaml_node_t *map, const char *key,
			    unsigned min, unsigned max, unsigned *out)
{
	yaml_node_t *v = config_get(r, map, key, NULL);
	size_t mark = config_path_key(r, key);
	const char *text;
	char shown[CONFIG_SHOW_MAX + 16];
	uint64_t n = 0;
	int rc = -1, parsed;

	if (v != NULL) {
		if (config_text(r, v, &text) < 0)
			goto fail;
		parsed = config_parse_uint(text, max, &n);
		if (parsed == -1) {
			config_fail(r, v, "%s is not a whole number", config_show(text, shown, sizeof shown));
			goto fail;
		}
		if (parsed == -2 || n > max) {
			config_fail(r, v, "must be at most %u", max);
			goto fail;
		}
		if (n < min) {
			config_fail(r, v, "must be at least %u", min);
			goto fail;
		}
		*out = (unsigned)n;
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* A duration of at least min_ms under key; *out is left alone when the key is absent. */
static int config_read_duration(struct config_reader *r, const yaml_node_t *map, const char *key,
				uint64_t min_ms, uint64_t *out)
{
	yaml_node_t *v = config_get(r, map, key, NULL);
	size_t mark = config_path_key(r, key);
	const char *text;
	char shown[CONFIG_SHOW_MAX + 16];
	uint64_t ms;
	int rc = -1;

	if (v != NULL) {
		if (config_text(r, v, &text) < 0)
			goto fail;
		if (units_parse_duration(text, &ms) < 0) {
			config_fail(r, v, "%s is not a duration",
				    config_show(text, shown, sizeof shown));
			goto fail;
		}
		if (ms > CONFIG_DURATION_MAX) {
			config_fail(r, v, "must be at most 576h");
			goto fail;
		}
		if (ms < min_ms) {
			if (min_ms == 1)
				config_fail(r, v, "must be above 0");
			else
				config_fail(r, v, "must be at least %" PRIu64 "ms", min_ms);
			goto fail;
		}
		*out = ms;
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* A size of at least min bytes under key; *out is left alone when the key is absent. */
static int config_read_size(struct config_reader *r, const yaml_node_t *map, const char *key,
			    size_t min, size_t *out)
{
	yaml_node_t *v = config_get(r, map, key, NULL);
	size_t mark = config_path_key(r, key);
	const char *text;
	char shown[CONFIG_SHOW_MAX + 16];
	size_t bytes;
	int rc = -1;

	if (v != NULL) {
		if (config_text(r, v, &text) < 0)
			goto fail;
		if (units_parse_size(text, &bytes) < 0) {
			config_fail(r, v, "%s is not a size",
				    config_show(text, shown, sizeof shown));
			goto fail;
		}
		if (bytes < min) {
			config_fail(r, v, "must be at least %zu bytes", min);
			goto fail;
		}
		*out = bytes;
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* true/false, also yes/no and on/off in any case; *out is left alone when the key is absent. */
static int config_read_bool(struct config_reader *r, const yaml_node_t *map, const char *key, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	yaml_node_t *v = config_get(r, map, key, NULL);
	size_t mark = config_path_key(r, key);
	const char *text;
	char shown[CONFIG_SHOW_MAX + 16];
	int rc = -1;

	if (v != NULL) {
		bool known = false;

		if (config_text(r, v, &text) < 0)
			goto fail;
		for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
			if (strcasecmp(text, yes[i]) == 0)
				*out = known = true;
			if (strcasecmp(text, no[i]) == 0) {
				*out = false;
				known = true;
			}
		}
		if (!known) {
			config_fail(r, v, "%s is not true or false", config_show(text, shown, sizeof shown));
			goto fail;
		}
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* Which of names (NULL-terminated) text is, or -1. */
static int config_choice_index(const char *text, const char *const *names)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(text, names[i]) == 0)
			return i;
	return -1;
}

/* Fails at node with "X" is not one of a, b, c. */
static int config_fail_choice(struct config_reader *r, const yaml_node_t *node, const char *text,
			      const char *const *names)
{
	char list[256] = "", shown[CONFIG_SHOW_MAX + 16];
	size_t o = 0;

	for (size_t i = 0; names[i] != NULL && o < sizeof list; i++)
		o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i > 0 ? ", " : "", names[i]);
	return config_fail(r, node, "%s is not one of %s", config_show(text, shown, sizeof shown), list);
}

/* One of names under key, as its index; *out is left alone when the key is absent. */
static int config_read_choice(struct config_reader *r, const yaml_node_t *map, const char *key,
			      const char *const *names, int *out)
{
	yaml_node_t *v = config_get(r, map, key, NULL);
	size_t mark = config_path_key(r, key);
	const char *text;
	int rc = -1, i;

	if (v != NULL) {
		if (config_text(r, v, &text) < 0)
			goto fail;
		i = config_choice_index(text, names);
		if (i < 0) {
			config_fail_choice(r, v, text, names);
			goto fail;
		}
		*out = i;
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/*
 * A non-empty string under key, replacing *out (freed) when present. Unless
 * multiline, control characters are refused: these strings go into headers.
 */
static int config_read_string(struct config_reader *r, const yaml_node_t *map, const char *key,
			      bool multiline, char **out)
{
	yaml_node_t *v = config_get(r, map, key, NULL);
	size_t mark = config_path_key(r, key);
	const char *text;
	char *copy;
	int rc = -1;

	if (v != NULL) {
		if (config_text(r, v, &text) < 0)
			goto fail;
		if (*text == '\0') {
			config_fail(r, v, "must not be empty");
			goto fail;
		}
		if (!multiline && config_has_control(text)) {
			config_fail(r, v, "must be one line, without control characters");
			goto fail;
		}
		if ((copy = config_dup(r, v, text)) == NULL)
			goto fail;
		free(*out);
		*out = copy;
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* ---- files and secrets ---------------------------------------------------- */

/*
 * Reads the whole file at path into a NUL-terminated buffer of at most cap bytes,
 * in *out (free with free) and *outlen. Returns 0, or -1 with errno set (EFBIG past
 * cap). A grown buffer is wiped before it is freed: the file may hold a secret.
 */
static int config_slurp(const char *path, size_t cap, char **out, size_t *outlen)
{
	char *buf = NULL, *bigger;
	size_t len = 0, size = 4096;
	ssize_t n;
	int fd = -1, rc = -1, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		goto fail;
	if ((buf = malloc(size)) == NULL)
		goto fail;
	for (;;) {
		if (len + 1 == size) {
			if (size > cap) {
				errno = EFBIG;
				goto fail;
			}
			if ((bigger = malloc(size * 2)) == NULL)
				goto fail;
			memcpy(bigger, buf, len);
			explicit_bzero(buf, size);
			free(buf);
			buf = bigger;
			size *= 2;
		}
		n = read(fd, buf + len, size - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > cap) {
		errno = EFBIG;
		goto fail;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = 0;
fail:
	saved = errno;
	if (buf != NULL) {
		explicit_bzero(buf, size);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	errno = saved;
	return rc;
}

/* path as written, or joined to the configuration's directory when relative. */
static char *config_resolve(struct config_reader *r, const yaml_node_t *node, const char *path)
{
	char *joined = NULL;
	size_t dirlen;

	if (path[0] == '/' || r->dir == NULL)
		return config_dup(r, node, path);
	dirlen = strlen(r->dir);
	if (asprintf(&joined, "%s%s%s", r->dir, dirlen > 0 && r->dir[dirlen - 1] == '/' ? "" : "/", path) < 0) {
		config_oom(r, node);
		return NULL;
	}
	return joined;
}

static bool config_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/*
 * Strips leading and trailing whitespace from the len bytes at s (room for len + 1), in place, and
 * zeroes what is left behind (s may be a secret); returns the new length.
 */
static size_t config_trim(char *s, size_t len)
{
	size_t start = 0, end = len;

	while (end > 0 && config_space(s[end - 1]))
		end--;
	while (start < end && config_space(s[start]))
		start++;
	memmove(s, s + start, end - start);
	memset(s + (end - start), 0, len - (end - start) + 1);
	return end - start;
}

/*
 * Why a trimmed secret of len bytes cannot be used, or NULL. It goes into an
 * HTTP header, so it must be one line without control bytes (a NUL included).
 */
static const char *config_secret_problem(const char *s, size_t len)
{
	if (len == 0)
		return "is empty";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return "holds more than one line or control characters";
	return NULL;
}

/*
 * 2 for a conventional environment variable name (upper case, digits, _),
 * 1 for another valid one, 0 for none. Messages quote only conventional names:
 * a key pasted into *_env by mistake (sk-..., gsk_...) then never reaches a log.
 */
static int config_env_name_kind(const char *name)
{
	int kind = 2;

	if (name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
		return 0;
	for (const char *p = name; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
			continue;
		if (*p >= 'a' && *p <= 'z')
			kind = 1;
		else
			return 0;
	}
	return kind;
}

/* The secret in the environment variable named by node, trimmed, into *out. The path is at the key. */
static int config_secret_from_env(struct config_reader *r, const yaml_node_t *node, char **out)
{
	const char *name, *value, *problem;
	char *copy = NULL;
	size_t len = 0;
	int kind, rc = -1;

	if (config_text(r, node, &name) < 0)
		goto fail;
	kind = config_env_name_kind(name);
	if (kind == 0) {
		config_fail(r, node, "not an environment variable name (letters, digits, _; not shown, in case it is a key)");
		goto fail;
	}
	value = getenv(name);
	if (value == NULL) {
		if (kind == 2)
			config_fail(r, node, "environment variable %s is not set", name);
		else
			config_fail(r, node, "the environment variable named here is not set");
		goto fail;
	}
	if ((copy = config_dup(r, node, value)) == NULL)
		goto fail;
	len = config_trim(copy, strlen(copy));
	if ((problem = config_secret_problem(copy, len)) != NULL) {
		if (kind == 2)
			config_fail(r, node, "environment variable %s %s", name, problem);
		else
			config_fail(r, node, "the environment variable named here %s", problem);
		goto fail;
	}
	*out = copy;
	copy = NULL;
	rc = 0;
fail:
	if (copy != NULL) {
		explicit_bzero(copy, len);
		free(copy);
	}
	return rc;
}

/* The secret in the file named by node, trimmed, into *out. The path is at the key. */
static int config_secret_from_file(struct config_reader *r, const yaml_node_t *node, char **out)
{
	const char *name, *problem;
	char *path = NULL, *buf = NULL;
	size_t len = 0;
	int rc = -1;

	if (config_text(r, node, &name) < 0 || (path = config_resolve(r, node, name)) == NULL)
		goto fail;
	if (config_slurp(path, CONFIG_SECRET_FILE_MAX, &buf, &len) < 0) {
		config_fail(r, node, "cannot read the file named here (not shown, in case it is a key): %s", strerror(errno));
		goto fail;
	}
	len = config_trim(buf, len);
	if ((problem = config_secret_problem(buf, len)) != NULL) {
		config_fail(r, node, "%s %s", path, problem);
		goto fail;
	}
	*out = buf;
	buf = NULL;
	rc = 0;
fail:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	free(path);
	return rc;
}

/* A secret named by env_key or file_key (at most one, both optional) into *out; NULL when neither. */
static int config_read_secret(struct config_reader *r, const yaml_node_t *map, const char *env_key,
			      const char *file_key, char **out)
{
	yaml_node_t *env_k, *file_k;
	yaml_node_t *env = config_get(r, map, env_key, &env_k);
	yaml_node_t *file = config_get(r, map, file_key, &file_k);
	size_t mark = r->pathlen;
	int rc = -1;

	if (env_k != NULL && file_k != NULL) {
		bool file_later = env_k->start_mark.index < file_k->start_mark.index;

		config_path_key(r, file_later ? file_key : env_key);
		config_fail(r, file_later ? file_k : env_k, "%s and %s cannot both be set", env_key, file_key);
		goto fail;
	}
	if (env != NULL) {
		config_path_key(r, env_key);
		if (config_secret_from_env(r, env, out) < 0)
			goto fail;
	}
	if (file != NULL) {
		config_path_key(r, file_key);
		if (config_secret_from_file(r, file, out) < 0)
			goto fail;
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* ---- sections ------------------------------------------------------------- */

/*
 * Splits "host:port" or "[v6]:port". Returns NULL and a new host in *host, or
 * why text is not an address.
 */
static const char *config_split_listen(const char *text, char **host, uint16_t *port)
{
	const char *colon, *hostend, *hoststart = text;
	uint64_t n;

	if (text[0] == '[') {
		hoststart = text + 1;
		hostend = strchr(hoststart, ']');
		if (hostend == NULL || hostend[1] != ':')
			return "is not [address]:port";
		colon = hostend + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return "is not host:port";
		if (memchr(text, ':', (size_t)(colon - text)) != NULL)
			return "is not host:port (an IPv6 address goes in brackets: \"[::1]:8080\")";
		hostend = colon;
	}
	if (hostend == hoststart)
		return "has no host (0.0.0.0 listens on every address)";
	for (const char *p = hoststart; p < hostend; p++)
		if (config_space(*p) || *p == '[' || *p == ']' || (unsigned char)*p < 0x20)
			return "is not host:port";
	if (config_parse_uint(colon + 1, 65535, &n) < 0 || n == 0)
		return "needs a port 1..65535";
	if ((*host = strndup(hoststart, (size_t)(hostend - hoststart))) == NULL)
		return "out of memory";
	*port = (uint16_t)n;
	return NULL;
}

static int config_read_listen(struct config_reader *r, const yaml_node_t *map, struct config *cfg)
{
	yaml_node_t *v = config_get(r, map, "listen", NULL);
	size_t mark = config_path_key(r, "listen");
	const char *text, *why;
	char shown[CONFIG_SHOW_MAX + 16], *host = NULL;
	int rc = -1;

	if (v != NULL) {
		if (v->type == YAML_SEQUENCE_NODE) {
			config_fail(r, v, "expected a string, found a sequence (quote an IPv6 address: \"[::1]:8080\")");
			goto fail;
		}
		if (config_text(r, v, &text) < 0)
			goto fail;
		if ((why = config_split_listen(text, &host, &cfg->server.port)) != NULL) {
			config_fail(r, v, "%s %s", config_show(text, shown, sizeof shown), why);
			goto fail;
		}
		free(cfg->server.host);
		cfg->server.host = host;
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* One worker per online CPU, within 1..CONFIG_WORKERS_MAX. */
static unsigned config_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > (long)CONFIG_WORKERS_MAX ? CONFIG_WORKERS_MAX : (unsigned)n;
}

static int config_read_server(struct config_reader *r, const yaml_node_t *root, struct config *cfg)
{
	size_t mark = config_path_key(r, "server");
	yaml_node_t *m;
	unsigned workers = 0;
	int rc = -1;

	if (config_get_map(r, root, "server", config_server_keys, &m) < 0 ||
	    config_read_listen(r, m, cfg) < 0 ||
	    config_read_uint(r, m, "workers", 0, CONFIG_WORKERS_MAX, &workers) < 0 ||
	    config_read_size(r, m, "max_body", 1, &cfg->server.max_body) < 0 ||
	    config_read_uint(r, m, "max_connections", 1, CONFIG_COUNT_MAX, &cfg->server.max_connections) < 0 ||
	    config_read_duration(r, m, "request_timeout", 1, &cfg->server.request_timeout_ms) < 0 ||
	    config_read_duration(r, m, "client_timeout", 1, &cfg->server.client_timeout_ms) < 0 ||
	    config_read_duration(r, m, "header_timeout", 1, &cfg->server.header_timeout_ms) < 0 ||
	    config_read_uint(r, m, "max_connections_per_ip", 0, CONFIG_COUNT_MAX,
			     &cfg->server.max_connections_per_ip) < 0 ||
	    config_read_duration(r, m, "drain_timeout", 0, &cfg->server.drain_timeout_ms) < 0 ||
	    config_read_duration(r, m, "sse_heartbeat", 0, &cfg->server.sse_heartbeat_ms) < 0 ||
	    config_read_size(r, m, "max_response", 1, &cfg->server.max_response) < 0)
		goto fail;
	cfg->server.workers = workers > 0 ? workers : config_cpu_count();
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

static int config_read_log(struct config_reader *r, const yaml_node_t *root, struct config *cfg)
{
	size_t mark = config_path_key(r, "log");
	yaml_node_t *m;
	int level = (int)cfg->log.level, rc = -1;

	if (config_get_map(r, root, "log", config_log_keys, &m) < 0 ||
	    config_read_choice(r, m, "level", config_log_level_names, &level) < 0 ||
	    config_read_bool(r, m, "access", &cfg->log.access) < 0)
		goto fail;
	cfg->log.level = (enum config_log_level)level;
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/*
 * The client keys: one a line, whitespace trimmed, blank lines and lines starting
 * with # skipped. A key with whitespace inside is refused: a bearer token has none.
 */
static int config_read_client_keys(struct config_reader *r, const yaml_node_t *map, struct config *cfg)
{
	yaml_node_t *v = config_get(r, map, "client_keys_file", NULL);
	size_t mark = config_path_key(r, "client_keys_file");
	const char *name;
	char *path = NULL, *buf = NULL, *line, *next;
	size_t len = 0, count = 0, lineno = 0;
	int rc = -1;

	if (v == NULL)
		goto done;
	if (config_text(r, v, &name) < 0 || (path = config_resolve(r, v, name)) == NULL)
		goto fail;
	if (config_slurp(path, CONFIG_SECRET_FILE_MAX, &buf, &len) < 0) {
		config_fail(r, v, "cannot read the file named here (not shown, in case it is a key): %s", strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < len; i++)
		count += buf[i] == '\n';
	if ((cfg->auth.client_keys = calloc(count + 1, sizeof *cfg->auth.client_keys)) == NULL) {
		config_oom(r, v);
		goto fail;
	}
	for (line = buf; line != NULL; line = next) {
		size_t linelen;

		lineno++;
		next = memchr(line, '\n', len - (size_t)(line - buf));
		linelen = next != NULL ? (size_t)(next - line) : len - (size_t)(line - buf);
		if (next != NULL)
			next++;
		linelen = config_trim(line, linelen);
		if (linelen == 0 || line[0] == '#')
			continue;
		for (size_t i = 0; i < linelen; i++) {
			if ((unsigned char)line[i] <= 0x20 || line[i] == 0x7f) {
				config_fail(r, v, "%s line %zu: a key must not hold spaces or control characters",
					    path, lineno);
				goto fail;
			}
		}
		if ((cfg->auth.client_keys[cfg->auth.nclient_keys] = strndup(line, linelen)) == NULL) {
			config_oom(r, v);
			goto fail;
		}
		cfg->auth.nclient_keys++;
	}
	if (cfg->auth.nclient_keys == 0) {
		config_fail(r, v, "%s holds no keys", path);
		goto fail;
	}
done:
	rc = 0;
fail:
	config_path_leave(r, mark);
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	free(path);
	return rc;
}

static int config_read_auth(struct config_reader *r, const yaml_node_t *root, struct config *cfg)
{
	size_t mark = config_path_key(r, "auth");
	yaml_node_t *m;
	int status = (int)cfg->auth.status, rc = -1;

	if (config_get_map(r, root, "auth", config_auth_keys, &m) < 0 ||
	    config_read_client_keys(r, m, cfg) < 0 ||
	    config_read_secret(r, m, "admin_token_env", "admin_token_file", &cfg->auth.admin_token) < 0 ||
	    config_read_choice(r, m, "status", config_status_names, &status) < 0)
		goto fail;
	cfg->auth.status = (enum config_status_access)status;
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* "https://host/path" with the trailing slashes cut into *out. */
static int config_read_base_url(struct config_reader *r, const yaml_node_t *map, const yaml_node_t *where,
				char **out)
{
	yaml_node_t *k, *v = config_get(r, map, "base_url", &k);
	size_t mark = config_path_key(r, "base_url");
	const char *text, *rest;
	char shown[CONFIG_SHOW_MAX + 16];
	size_t len;
	int rc = -1;

	if (v == NULL) {
		config_missing(r, k, where);
		goto fail;
	}
	if (config_text(r, v, &text) < 0)
		goto fail;
	len = strlen(text);
	while (len > 0 && text[len - 1] == '/')
		len--;
	if (strncasecmp(text, "http://", 7) == 0)
		rest = text + 7;
	else if (strncasecmp(text, "https://", 8) == 0)
		rest = text + 8;
	else
		rest = NULL;
	if (rest == NULL || rest >= text + len || *rest == '/') {
		config_fail(r, v, "%s is not an http:// or https:// URL", config_show(text, shown, sizeof shown));
		goto fail;
	}
	for (const char *p = text; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			config_fail(r, v, "%s must not hold spaces or control characters",
				    config_show(text, shown, sizeof shown));
			goto fail;
		}
	}
	if ((*out = strndup(text, len)) == NULL) {
		config_oom(r, v);
		goto fail;
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

static int config_read_timeouts(struct config_reader *r, const yaml_node_t *map, struct config_timeouts *t)
{
	size_t mark = config_path_key(r, "timeouts");
	yaml_node_t *m;
	int rc = -1;

	if (config_get_map(r, map, "timeouts", config_timeouts_keys, &m) < 0 ||
	    config_read_duration(r, m, "connect", 1, &t->connect_ms) < 0 ||
	    config_read_duration(r, m, "first_byte", 1, &t->first_byte_ms) < 0 ||
	    config_read_duration(r, m, "idle", 1, &t->idle_ms) < 0 ||
	    config_read_duration(r, m, "total", 1, &t->total_ms) < 0)
		goto fail;
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

static int config_read_retries(struct config_reader *r, const yaml_node_t *map, struct config_retries *t)
{
	size_t mark = config_path_key(r, "retries");
	yaml_node_t *m;
	int rc = -1;

	if (config_get_map(r, map, "retries", config_retries_keys, &m) < 0 ||
	    config_read_uint(r, m, "attempts", 0, CONFIG_RETRIES_MAX, &t->attempts) < 0 ||
	    config_read_duration(r, m, "base_delay", 0, &t->base_delay_ms) < 0 ||
	    config_read_duration(r, m, "max_delay", 0, &t->max_delay_ms) < 0)
		goto fail;
	if (t->max_delay_ms < t->base_delay_ms) {
		/* Point at whichever of the two the file sets: max_delay when both. */
		yaml_node_t *v = config_get(r, m, "max_delay", NULL);

		config_path_key(r, v != NULL ? "max_delay" : "base_delay");
		config_fail(r, v != NULL ? v : config_get(r, m, "base_delay", NULL),
			    "max_delay (%" PRIu64 "ms) must not be below base_delay (%" PRIu64 "ms)",
			    t->max_delay_ms, t->base_delay_ms);
		goto fail;
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

static int config_read_breaker(struct config_reader *r, const yaml_node_t *map, struct config_breaker *b)
{
	size_t mark = config_path_key(r, "breaker");
	yaml_node_t *m;
	int rc = -1;

	if (config_get_map(r, map, "breaker", config_breaker_keys, &m) < 0 ||
	    config_read_uint(r, m, "failures", 1, 1000, &b->failures) < 0 ||
	    config_read_duration(r, m, "window", 1, &b->window_ms) < 0 ||
	    config_read_duration(r, m, "cooldown", 1, &b->cooldown_ms) < 0 ||
	    config_read_uint(r, m, "half_open_probes", 1, CONFIG_COUNT_MAX, &b->half_open_probes) < 0)
		goto fail;
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* health_check present means probes on, so its interval is required then. */
static int config_read_health(struct config_reader *r, const yaml_node_t *map, struct config_health_check *h)
{
	size_t mark = config_path_key(r, "health_check");
	yaml_node_t *m, *k;
	int rc = -1;

	if (config_get_map(r, map, "health_check", config_health_keys, &m) < 0)
		goto fail;
	if (m != NULL) {
		if (config_get(r, m, "interval", &k) == NULL) {
			config_path_key(r, "interval");
			config_missing(r, k, m);
			goto fail;
		}
		if (config_read_duration(r, m, "interval", 100, &h->interval_ms) < 0 ||
		    config_read_duration(r, m, "timeout", 1, &h->timeout_ms) < 0)
			goto fail;
		h->enabled = true;
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* Letters, digits, '.', '_' and '-': an upstream name goes into headers, URLs and metric labels. */
static bool config_valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > CONFIG_NAME_MAX)
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

static int config_read_upstream(struct config_reader *r, const yaml_node_t *key, const yaml_node_t *value,
				size_t index, struct config_upstream *u)
{
	const char *name = (const char *)key->data.scalar.value;
	size_t mark = config_path_key(r, name);
	const yaml_node_t *m = config_is_null(value) ? NULL : value;
	int provider = CONFIG_PROVIDER_OPENAI, rc = -1;

	u->index = index;
	u->provider = CONFIG_PROVIDER_OPENAI;
	u->default_max_tokens = 4096;
	u->timeouts = (struct config_timeouts){ 2000, 30000, 30000, 120000 };
	u->retries = (struct config_retries){ 1, 200, 5000 };
	u->breaker = (struct config_breaker){ 5, 60000, 30000, 1 };
	u->health_check = (struct config_health_check){ false, 0, 5000 };
	if (!config_valid_name(name)) {
		config_fail(r, key, "an upstream name is 1 to %u letters, digits, '.', '_' or '-'", CONFIG_NAME_MAX);
		goto fail;
	}
	if ((u->name = config_dup(r, key, name)) == NULL ||
	    (u->anthropic_version = config_dup(r, key, "2023-06-01")) == NULL)
		goto fail;
	if (m != NULL && (config_expect(r, m, YAML_MAPPING_NODE) < 0 ||
			  config_check_keys(r, m, config_upstream_keys) < 0))
		goto fail;
	if (config_read_choice(r, m, "provider", config_provider_names, &provider) < 0 ||
	    config_read_base_url(r, m, key, &u->base_url) < 0 ||
	    config_read_secret(r, m, "api_key_env", "api_key_file", &u->api_key) < 0 ||
	    config_read_timeouts(r, m, &u->timeouts) < 0 ||
	    config_read_retries(r, m, &u->retries) < 0 ||
	    config_read_breaker(r, m, &u->breaker) < 0 ||
	    config_read_health(r, m, &u->health_check) < 0 ||
	    config_read_string(r, m, "anthropic_version", false, &u->anthropic_version) < 0 ||
	    config_read_uint(r, m, "max_tokens", 1, CONFIG_COUNT_MAX, &u->default_max_tokens) < 0)
		goto fail;
	u->provider = (enum config_provider)provider;
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

static int config_read_upstreams(struct config_reader *r, const yaml_node_t *root, struct config *cfg)
{
	yaml_node_t *k, *m = config_get(r, root, "upstreams", &k);
	size_t mark = config_path_key(r, "upstreams"), n, i = 0;
	int rc = -1;

	if (m == NULL) {
		config_fail(r, k != NULL ? k : root, "at least one upstream is required");
		goto fail;
	}
	if (config_expect(r, m, YAML_MAPPING_NODE) < 0 || config_check_keys(r, m, NULL) < 0)
		goto fail;
	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	if (n == 0) {
		config_fail(r, m, "at least one upstream is required");
		goto fail;
	}
	if ((cfg->upstreams = calloc(n, sizeof *cfg->upstreams)) == NULL) {
		config_oom(r, m);
		goto fail;
	}
	cfg->nupstreams = n;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++, i++)
		if (config_read_upstream(r, config_node(r, p->key), config_node(r, p->value), i,
					 &cfg->upstreams[i]) < 0)
			goto fail;
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* The upstream a target names, with a hint when the name is a near miss. */
static int config_read_target_upstream(struct config_reader *r, const yaml_node_t *m, const struct config *cfg,
				       struct config_target *t)
{
	yaml_node_t *k, *v = config_get(r, m, "upstream", &k);
	size_t mark = config_path_key(r, "upstream");
	const char *text, *hint = NULL;
	char shown[CONFIG_SHOW_MAX + 16];
	int rc = -1;

	if (v == NULL) {
		config_missing(r, k, m);
		goto fail;
	}
	if (config_text(r, v, &text) < 0)
		goto fail;
	if ((t->upstream = config_find_upstream(cfg, text)) == NULL) {
		for (size_t i = 0; hint == NULL && i < cfg->nupstreams; i++)
			if (config_close(text, cfg->upstreams[i].name))
				hint = cfg->upstreams[i].name;
		config_fail(r, v, "no upstream named %s%s%s%s", config_show(text, shown, sizeof shown),
			    hint != NULL ? " (did you mean " : "", hint != NULL ? hint : "", hint != NULL ? "?)" : "");
		goto fail;
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/*
 * The sequence of targets under key into *out and *nout (set before the targets
 * are read, so config_free finds a half-read list). A weighted list needs a weight above 0.
 */
static int config_read_targets(struct config_reader *r, const yaml_node_t *map, const yaml_node_t *where,
			       const char *key, bool required, enum config_strategy strategy,
			       const struct config *cfg, struct config_target **out, size_t *nout)
{
	yaml_node_t *k, *v = config_get(r, map, key, &k);
	size_t mark = config_path_key(r, key), n;
	unsigned weights = 0;
	int rc = -1;

	if (v == NULL) {
		if (required) {
			config_missing(r, k, where);
			goto fail;
		}
		goto done;
	}
	if (config_expect(r, v, YAML_SEQUENCE_NODE) < 0)
		goto fail;
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0) {
		if (required) {
			config_fail(r, v, "must list at least one target");
			goto fail;
		}
		goto done;
	}
	if (n > CONFIG_MAX_TARGETS) {
		config_fail(r, v, "lists more than " CONFIG_STR(CONFIG_MAX_TARGETS) " targets");
		goto fail;
	}
	if ((*out = calloc(n, sizeof **out)) == NULL) {
		config_oom(r, v);
		goto fail;
	}
	*nout = n;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = config_node(r, v->data.sequence.items.start[i]);
		struct config_target *t = &(*out)[i];
		size_t at = config_path_index(r, i);

		t->weight = 1;
		if (config_expect(r, item, YAML_MAPPING_NODE) < 0 ||
		    config_check_keys(r, item, config_target_keys) < 0 ||
		    config_read_target_upstream(r, item, cfg, t) < 0 ||
		    config_read_string(r, item, "model", false, &t->model) < 0 ||
		    config_read_uint(r, item, "max_tokens", 1, CONFIG_COUNT_MAX, &t->max_tokens) < 0 ||
		    config_read_uint(r, item, "weight", 0, CONFIG_COUNT_MAX, &t->weight) < 0)
			goto fail;
		weights |= t->weight;
		config_path_leave(r, at);
	}
	if (strategy == CONFIG_STRATEGY_WEIGHTED && weights == 0) {
		config_fail(r, v, "a weighted route needs a target with a weight above 0");
		goto fail;
	}
done:
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

static int config_read_route(struct config_reader *r, const yaml_node_t *key, const yaml_node_t *value,
			     struct config *cfg, struct config_route *route)
{
	const char *name;
	size_t mark = r->pathlen;
	const yaml_node_t *m = config_is_null(value) ? NULL : value;
	int strategy = CONFIG_STRATEGY_FALLBACK, rc = -1;

	if (config_text(r, key, &name) < 0)
		goto fail;
	config_path_key(r, name);
	if (*name == '\0' || config_has_control(name)) {
		config_fail(r, key, "a model name must be one line, without control characters");
		goto fail;
	}
	if ((route->name = config_dup(r, key, name)) == NULL)
		goto fail;
	if (m != NULL && (config_expect(r, m, YAML_MAPPING_NODE) < 0 ||
			  config_check_keys(r, m, config_route_keys) < 0))
		goto fail;
	if (config_read_choice(r, m, "strategy", config_strategy_names, &strategy) < 0)
		goto fail;
	route->strategy = (enum config_strategy)strategy;
	if (config_read_targets(r, m, key, "targets", true, route->strategy, cfg,
				&route->targets, &route->ntargets) < 0 ||
	    config_read_targets(r, m, key, "reduced", false, route->strategy, cfg,
				&route->reduced, &route->nreduced) < 0)
		goto fail;
	if (strcmp(name, "*") == 0)
		cfg->catch_all = route;
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

static int config_read_models(struct config_reader *r, const yaml_node_t *root, struct config *cfg)
{
	yaml_node_t *k, *m = config_get(r, root, "models", &k);
	size_t mark = config_path_key(r, "models"), n, i = 0;
	int rc = -1;

	if (m == NULL) {
		config_fail(r, k != NULL ? k : root, "at least one route is required (\"*\" takes every model)");
		goto fail;
	}
	if (config_expect(r, m, YAML_MAPPING_NODE) < 0 || config_check_keys(r, m, NULL) < 0)
		goto fail;
	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	if (n == 0) {
		config_fail(r, m, "at least one route is required (\"*\" takes every model)");
		goto fail;
	}
	if ((cfg->routes = calloc(n, sizeof *cfg->routes)) == NULL) {
		config_oom(r, m);
		goto fail;
	}
	cfg->nroutes = n;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++, i++)
		if (config_read_route(r, config_node(r, p->key), config_node(r, p->value), cfg,
				      &cfg->routes[i]) < 0)
			goto fail;
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

static void config_fallback_set(struct config_fallback *fb, unsigned status)
{
	fb->status[status / 8] |= (uint8_t)(1u << (status % 8));
}

/* Adds one fallback_on word or status to fb; -1 when text is neither. */
static int config_fallback_add(struct config_fallback *fb, const char *text)
{
	uint64_t status;

	if (strcmp(text, "connect") == 0)
		fb->connect = true;
	else if (strcmp(text, "timeout") == 0)
		fb->timeout = true;
	else if (strcmp(text, "protocol") == 0)
		fb->protocol = true;
	else if (strcmp(text, "4xx") == 0 || strcmp(text, "5xx") == 0) {
		unsigned first = (unsigned)(text[0] - '0') * 100;

		for (unsigned s = first; s < first + 100; s++)
			config_fallback_set(fb, s);
	} else if (config_parse_uint(text, 599, &status) == 0 && status >= 100)
		config_fallback_set(fb, (unsigned)status);
	else
		return -1;
	return 0;
}

/* fallback_on replaces the default list entirely when present. */
static int config_read_fallback(struct config_reader *r, const yaml_node_t *root, struct config *cfg)
{
	yaml_node_t *v = config_get(r, root, "fallback_on", NULL);
	size_t mark = config_path_key(r, "fallback_on");
	char shown[CONFIG_SHOW_MAX + 16];
	int rc = -1;

	memset(&cfg->fallback_on, 0, sizeof cfg->fallback_on);
	if (v == NULL) {
		for (size_t i = 0; config_fallback_default[i] != NULL; i++)
			config_fallback_add(&cfg->fallback_on, config_fallback_default[i]);
		goto done;
	}
	if (config_expect(r, v, YAML_SEQUENCE_NODE) < 0)
		goto fail;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *item = config_node(r, *it);
		size_t at = config_path_index(r, (size_t)(it - v->data.sequence.items.start));
		const char *text;

		if (config_text(r, item, &text) < 0)
			goto fail;
		if (config_fallback_add(&cfg->fallback_on, text) < 0) {
			config_fail(r, item, "%s is not connect, timeout, protocol, 4xx, 5xx or a status 100..599",
				    config_show(text, shown, sizeof shown));
			goto fail;
		}
		config_path_leave(r, at);
	}
done:
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

static int config_read_drop(struct config_reader *r, const yaml_node_t *map, unsigned *drop)
{
	yaml_node_t *v = config_get(r, map, "drop", NULL);
	size_t mark = config_path_key(r, "drop");
	unsigned bits = 0;
	int rc = -1;

	if (v == NULL)
		goto done;
	if (config_expect(r, v, YAML_SEQUENCE_NODE) < 0)
		goto fail;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *item = config_node(r, *it);
		size_t at = config_path_index(r, (size_t)(it - v->data.sequence.items.start));
		const char *text;
		int i;

		if (config_text(r, item, &text) < 0)
			goto fail;
		if ((i = config_choice_index(text, config_drop_names)) < 0) {
			config_fail_choice(r, item, text, config_drop_names);
			goto fail;
		}
		bits |= 1u << i;
		config_path_leave(r, at);
	}
	*drop = bits;
done:
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

static int config_read_limits(struct config_reader *r, const yaml_node_t *map, const char *key,
			      struct config_level_limits *l)
{
	size_t mark = config_path_key(r, key);
	yaml_node_t *m;
	int rc = -1;

	if (config_get_map(r, map, key, config_limits_keys, &m) < 0 ||
	    config_read_uint(r, m, "max_tokens", 0, CONFIG_COUNT_MAX, &l->max_tokens) < 0 ||
	    config_read_drop(r, m, &l->drop) < 0)
		goto fail;
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

static int config_read_cache(struct config_reader *r, const yaml_node_t *map, struct config *cfg)
{
	size_t mark = config_path_key(r, "cache");
	yaml_node_t *m;
	unsigned entries = (unsigned)cfg->degradation.cache.entries;
	int rc = -1;

	if (config_get_map(r, map, "cache", config_cache_keys, &m) < 0 ||
	    config_read_uint(r, m, "entries", 0, CONFIG_COUNT_MAX, &entries) < 0 ||
	    config_read_duration(r, m, "ttl", 1, &cfg->degradation.cache.ttl_ms) < 0 ||
	    config_read_size(r, m, "max_bytes", 1, &cfg->degradation.cache.max_bytes) < 0 ||
	    config_read_bool(r, m, "serve_fresh", &cfg->degradation.cache.serve_fresh) < 0)
		goto fail;
	cfg->degradation.cache.entries = entries;
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* A forced level must be one the configuration can serve. */
static int config_read_degradation(struct config_reader *r, const yaml_node_t *root, struct config *cfg)
{
	size_t mark = config_path_key(r, "degradation");
	yaml_node_t *m;
	int mode = CONFIG_LEVEL_AUTO, rc = -1;

	if (config_get_map(r, root, "degradation", config_degradation_keys, &m) < 0 ||
	    config_read_choice(r, m, "mode", config_level_names, &mode) < 0 ||
	    config_read_limits(r, m, "reduced", &cfg->degradation.reduced) < 0 ||
	    config_read_limits(r, m, "minimal", &cfg->degradation.minimal) < 0 ||
	    config_read_cache(r, m, cfg) < 0 ||
	    config_read_string(r, m, "offline_message", true, &cfg->degradation.offline_message) < 0)
		goto fail;
	cfg->degradation.mode = (enum config_level)mode;
	if (!config_level_servable(cfg, cfg->degradation.mode)) {
		config_path_key(r, "mode");
		config_fail(r, config_get(r, m, "mode", NULL), mode == CONFIG_LEVEL_OFFLINE
				? "offline needs an offline_message" : "cached needs a cache (cache.entries above 0)");
		goto fail;
	}
	rc = 0;
fail:
	config_path_leave(r, mark);
	return rc;
}

/* Everything config_read_* does not set. */
static struct config *config_new(const char *name)
{
	struct config *cfg = calloc(1, sizeof *cfg);

	if (cfg == NULL)
		return NULL;
	cfg->path = strdup(name);
	cfg->server.host = strdup("127.0.0.1");
	if (cfg->path == NULL || cfg->server.host == NULL) {
		config_free(cfg);
		return NULL;
	}
	cfg->server.port = 8080;
	cfg->server.max_body = (size_t)4 << 20;
	cfg->server.max_connections = 10000;
	cfg->server.request_timeout_ms = 120000;
	cfg->server.client_timeout_ms = 30000;
	cfg->server.header_timeout_ms = 10000;
	cfg->server.max_connections_per_ip = 0;
	cfg->auth.status = CONFIG_STATUS_OPEN;
	cfg->server.drain_timeout_ms = 10000;
	cfg->server.sse_heartbeat_ms = 15000;
	cfg->server.max_response = (size_t)32 << 20;
	cfg->log.level = CONFIG_LOG_INFO;
	cfg->log.access = false;
	cfg->degradation.mode = CONFIG_LEVEL_AUTO;
	cfg->degradation.reduced = (struct config_level_limits){ 2048, CONFIG_DROP_TOOLS };
	cfg->degradation.minimal = (struct config_level_limits){ 512, CONFIG_DROP_TOOLS | CONFIG_DROP_STREAM };
	cfg->degradation.cache.entries = 10000;
	cfg->degradation.cache.ttl_ms = 3600000;
	cfg->degradation.cache.max_bytes = (size_t)64 << 20;
	cfg->degradation.cache.serve_fresh = false;
	return cfg;
}

/* The order below is the order sections are checked in: upstreams before the models that name them. */
static int config_read_root(struct config_reader *r, const yaml_node_t *root, struct config *cfg)
{
	if (config_expect(r, root, YAML_MAPPING_NODE) < 0 ||
	    config_check_keys(r, root, config_root_keys) < 0 ||
	    config_read_server(r, root, cfg) < 0 ||
	    config_read_log(r, root, cfg) < 0 ||
	    config_read_auth(r, root, cfg) < 0 ||
	    config_read_upstreams(r, root, cfg) < 0 ||
	    config_read_models(r, root, cfg) < 0 ||
	    config_read_fallback(r, root, cfg) < 0 ||
	    config_read_degradation(r, root, cfg) < 0)
		return -1;
	return 0;
}

/* libyaml's problem and mark. A reader error (bad UTF-8) has only a byte offset: count lines ourselves. */
static void config_syntax_error(struct config_reader *r, const yaml_parser_t *parser, const char *text)
{
	size_t line = parser->problem_mark.line, column = parser->problem_mark.column;

	if (r->err == NULL || r->errlen == 0)
		return;
	if (parser->error == YAML_MEMORY_ERROR) {
		snprintf(r->err, r->errlen, "%s: out of memory", r->file);
		return;
	}
	if (parser->error == YAML_READER_ERROR) {
		line = column = 0;
		for (size_t i = 0; i < parser->problem_offset; i++) {
			if (text[i] == '\n') {
				line++;
				column = 0;
			} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
				column++; /* libyaml counts characters, not bytes */
			}
		}
	}
	if (parser->context != NULL)
		snprintf(r->err, r->errlen, "%s:%zu:%zu: %s (%s at %zu:%zu)", r->file, line + 1, column + 1,
			 parser->problem, parser->context,
			 parser->context_mark.line + 1, parser->context_mark.column + 1);
	else
		snprintf(r->err, r->errlen, "%s:%zu:%zu: %s", r->file, line + 1, column + 1,
			 parser->problem != NULL ? parser->problem : "cannot parse");
}

/* Parses text (len bytes, NUL-terminated) as the file name; relative *_file paths resolve against dir. */
static int config_load_text(const char *name, const char *dir, const char *text, size_t len,
			    struct config **out, char *err, size_t errlen)
{
	struct config_reader r = { .file = name, .dir = dir, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	bool have_doc = false, have_extra = false;
	yaml_node_t *root;
	struct config *cfg = NULL;
	int rc = -1;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		config_syntax_error(&r, &parser, text);
		goto fail;
	}
	have_doc = true;
	r.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL || config_is_null(root)) {
		snprintf(err, errlen, "%s:1:1: the configuration is empty", name);
		goto fail;
	}
	/* A second document would be ignored silently; refuse it instead. */
	if (!yaml_parser_load(&parser, &extra)) {
		config_syntax_error(&r, &parser, text);
		goto fail;
	}
	have_extra = true;
	if (yaml_document_get_root_node(&extra) != NULL) {
		config_fail(&r, yaml_document_get_root_node(&extra), "only one YAML document is allowed");
		goto fail;
	}
	if ((cfg = config_new(name)) == NULL) {
		config_oom(&r, root);
		goto fail;
	}
	if (config_read_root(&r, root, cfg) < 0)
		goto fail;
	*out = cfg;
	cfg = NULL;
	rc = 0;
fail:
	config_free(cfg);
	if (have_extra)
		yaml_document_delete(&extra);
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

int config_load_string(const char *name, const char *yaml, size_t len,
		       struct config **out, char *err, size_t errlen)
{
	char *copy;
	int rc;

	/* A private NUL-terminated copy: a reader error's position is found by walking the text. */
	if ((copy = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	memcpy(copy, yaml, len);
	copy[len] = '\0';
	rc = config_load_text(name, NULL, copy, len, out, err, errlen);
	free(copy);
	return rc;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *text = NULL, *dir = NULL;
	size_t len;
	int rc = -1;

	if (config_slurp(path, CONFIG_FILE_MAX, &text, &len) < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		goto fail;
	}
	if (slash != NULL && (dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	rc = config_load_text(path, dir, text, len, out, err, errlen);
fail:
	free(dir);
	free(text);
	return rc;
}

static void config_free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void config_free_targets(struct config_target *targets, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(targets[i].model);
	free(targets);
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->server.host);
	for (size_t i = 0; i < cfg->auth.nclient_keys; i++)
		config_free_secret(cfg->auth.client_keys[i]);
	free(cfg->auth.client_keys);
	config_free_secret(cfg->auth.admin_token);
	for (size_t i = 0; i < cfg->nupstreams; i++) {
		struct config_upstream *u = &cfg->upstreams[i];

		free(u->name);
		free(u->base_url);
		config_free_secret(u->api_key);
		free(u->anthropic_version);
	}
	free(cfg->upstreams);
	for (size_t i = 0; i < cfg->nroutes; i++) {
		free(cfg->routes[i].name);
		config_free_targets(cfg->routes[i].targets, cfg->routes[i].ntargets);
		config_free_targets(cfg->routes[i].reduced, cfg->routes[i].nreduced);
	}
	free(cfg->routes);
	free(cfg->degradation.offline_message);
	free(cfg);
}

bool config_level_servable(const struct config *cfg, enum config_level level)
{
	if (level == CONFIG_LEVEL_CACHED)
		return cfg->degradation.cache.entries > 0;
	if (level == CONFIG_LEVEL_OFFLINE)
		return cfg->degradation.offline_message != NULL;
	return true;
}

const struct config_upstream *config_find_upstream(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nupstreams; i++)
		if (cfg->upstreams[i].name != NULL && strcmp(cfg->upstreams[i].name, name) == 0)
			return &cfg->upstreams[i];
	return NULL;
}

bool config_fallback_status(const struct config_fallback *fb, unsigned status)
{
	return status < 600 && (fb->status[status / 8] & (1u << (status % 8))) != 0;
}

const char *config_level_name(enum config_level level)
{
	return (unsigned)level < sizeof config_level_names / sizeof config_level_names[0] - 1
		       ? config_level_names[level] : "unknown";
}

const char *config_provider_name(enum config_provider provider)
{
	return (unsigned)provider < sizeof config_provider_names / sizeof config_provider_names[0] - 1
		       ? config_provider_names[provider] : "unknown";
}
