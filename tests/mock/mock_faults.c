/* mock_faults.c — the fault set in force: parsed from the command line or JSON, handed to each request as a snapshot, counted down by `times`. */
#include "mock_faults.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum mock_fault_kind {
	MOCK_FAULT_NUMBER,   /* long long, a whole number */
	MOCK_FAULT_MS,       /* long long milliseconds: "200ms", "2s", "200"; in JSON also a number */
	MOCK_FAULT_FLAG,     /* bool */
	MOCK_FAULT_RATE,     /* double in [0, 1] */
	MOCK_FAULT_TEXT,     /* char *, at most max bytes */
};

/*
 * Every fault key once, so the command line, the JSON parser, the JSON view
 * and --help cannot disagree. off is the value of a key that is absent.
 */
struct mock_fault_key {
	const char *json;
	const char *option;   /* NULL: JSON only */
	enum mock_fault_kind kind;
	size_t offset;
	long long min;
	long long max;        /* for TEXT, the longest value in bytes */
	long long off;
	const char *help;
};

#define MOCK_FAULT_FIELD(f) offsetof(struct mock_fault_set, f)
#define MOCK_FAULT_DAY_MS (24LL * 3600 * 1000)

static const struct mock_fault_key mock_fault_keys[] = {
	{ "status", "--status", MOCK_FAULT_NUMBER, MOCK_FAULT_FIELD(status), 100, 599, 0,
	  "answer this HTTP status with an error body" },
	{ "retry_after", "--retry-after", MOCK_FAULT_TEXT, MOCK_FAULT_FIELD(retry_after), 0, 63, 0,
	  "Retry-After header on injected errors" },
	{ "retry_after_ms", "--retry-after-ms", MOCK_FAULT_MS, MOCK_FAULT_FIELD(retry_after_ms), 0, MOCK_FAULT_DAY_MS, -1,
	  "retry-after-ms header on injected errors" },
	{ "latency_ms", "--latency", MOCK_FAULT_MS, MOCK_FAULT_FIELD(latency_ms), 0, MOCK_FAULT_DAY_MS, 0,
	  "delay before the response headers (200ms, 2s)" },
	{ "hang", "--hang", MOCK_FAULT_FLAG, MOCK_FAULT_FIELD(hang), 0, 1, 0,
	  "never answer; hold the connection until the client leaves" },
	{ "reset", "--reset", MOCK_FAULT_FLAG, MOCK_FAULT_FIELD(reset), 0, 1, 0,
	  "part of the body, then a TCP RST (stream: RST after the first event)" },
	{ "malformed", "--malformed", MOCK_FAULT_FLAG, MOCK_FAULT_FIELD(malformed), 0, 1, 0,
	  "200 with truncated JSON (stream: one event of broken JSON, then the end)" },
	{ "cut_after", "--cut-after", MOCK_FAULT_NUMBER, MOCK_FAULT_FIELD(cut_after), 0, 1000000, -1,
	  "stream: RST after N content chunks, no [DONE]" },
	{ "stall_after", "--stall-after", MOCK_FAULT_NUMBER, MOCK_FAULT_FIELD(stall_after), 0, 1000000, -1,
	  "stream: go silent after N content chunks, connection kept open" },
	{ "stream_error_after", "--stream-error-after", MOCK_FAULT_NUMBER, MOCK_FAULT_FIELD(stream_error_after), 0, 1000000, -1,
	  "stream: an error event after N content chunks, then the end" },
	{ "fail_rate", "--fail-rate", MOCK_FAULT_RATE, MOCK_FAULT_FIELD(fail_rate), 0, 1, 0,
	  "each request fails with --fail-status with this probability (0..1)" },
	{ "fail_status", "--fail-status", MOCK_FAULT_NUMBER, MOCK_FAULT_FIELD(fail_status), 100, 599, 500,
	  "status of a --fail-rate failure (default 500)" },
	{ "chunks", "--chunks", MOCK_FAULT_NUMBER, MOCK_FAULT_FIELD(chunks), 1, 10000, MOCK_FAULTS_DEFAULT_CHUNKS,
	  "content pieces in a stream (default 5)" },
	{ "chunk_delay_ms", "--chunk-delay", MOCK_FAULT_MS, MOCK_FAULT_FIELD(chunk_delay_ms), 0, MOCK_FAULT_DAY_MS, 0,
	  "pause between stream events (20ms)" },
	{ "content", NULL, MOCK_FAULT_TEXT, MOCK_FAULT_FIELD(content), 0, 1 << 20, 0,
	  "answer text in place of --content" },
	{ "times", "--times", MOCK_FAULT_NUMBER, MOCK_FAULT_FIELD(times), 0, 1000000000, 0,
	  "the faults apply to the next N requests only (0: forever)" },
};

#define MOCK_FAULT_KEYS (sizeof mock_fault_keys / sizeof mock_fault_keys[0])

static long long *mock_fault_number(struct mock_fault_set *set, const struct mock_fault_key *key)
{
	return (long long *)((char *)set + key->offset);
}

static bool *mock_fault_flag(struct mock_fault_set *set, const struct mock_fault_key *key)
{
	return (bool *)((char *)set + key->offset);
}

static double *mock_fault_rate(struct mock_fault_set *set, const struct mock_fault_key *key)
{
	return (double *)((char *)set + key->offset);
}

static char **mock_fault_text(struct mock_fault_set *set, const struct mock_fault_key *key)
{
	return (char **)((char *)set + key->offset);
}

struct mock_fault_set *mock_fault_set_new(void)
{
	struct mock_fault_set *set = calloc(1, sizeof *set);
	size_t i;

	if (set == NULL)
		return NULL;
	for (i = 0; i < MOCK_FAULT_KEYS; i++) {
		const struct mock_fault_key *key = &mock_fault_keys[i];

		if (key->kind == MOCK_FAULT_NUMBER || key->kind == MOCK_FAULT_MS)
			*mock_fault_number(set, key) = key->off;
	}
	atomic_init(&set->refs, 1);
	return set;
}

void mock_fault_set_release(struct mock_fault_set *set)
{
	if (set == NULL || atomic_fetch_sub(&set->refs, 1) != 1)
		return;
	free(set->retry_after);
	free(set->content);
	free(set);
}

static const struct mock_fault_key *mock_fault_key_by_option(const char *option)
{
	size_t i;

	for (i = 0; i < MOCK_FAULT_KEYS; i++)
		if (mock_fault_keys[i].option && strcmp(mock_fault_keys[i].option, option) == 0)
			return &mock_fault_keys[i];
	return NULL;
}

static const struct mock_fault_key *mock_fault_key_by_json(const char *name)
{
	size_t i;

	for (i = 0; i < MOCK_FAULT_KEYS; i++)
		if (strcmp(mock_fault_keys[i].json, name) == 0)
			return &mock_fault_keys[i];
	return NULL;
}

int mock_fault_set_option_arity(const char *option)
{
	const struct mock_fault_key *key = mock_fault_key_by_option(option);

	if (key == NULL)
		return -1;
	return key->kind == MOCK_FAULT_FLAG ? 0 : 1;
}

/* A whole decimal number, nothing around it. */
static int mock_faults_parse_number(const char *text, long long *out)
{
	char *end;
	long long v;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* "250", "250ms" or "2s" into milliseconds. */
static int mock_faults_parse_ms(const char *text, long long *out)
{
	char *end;
	long long v;
	long long scale = 1;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0)
		return -1;
	if (strcmp(end, "s") == 0)
		scale = 1000;
	else if (*end != '\0' && strcmp(end, "ms") != 0)
		return -1;
	if (v > MOCK_FAULT_DAY_MS)
		return -1;
	*out = v * scale;
	return 0;
}

/* Stores text (copied) after checking its length and, for a header value, that it holds no control character. */
static int mock_fault_set_text(struct mock_fault_set *set, const struct mock_fault_key *key, const char *text,
			       size_t len, char *err, size_t errlen)
{
	char **field = mock_fault_text(set, key);
	json_t *utf8 = NULL;
	char *copy = NULL;
	size_t i;

	if ((long long)len > key->max) {
		snprintf(err, errlen, "%s: longer than %lld bytes", key->json, key->max);
		goto fail;
	}
	utf8 = json_stringn(text, len);   /* jansson checks UTF-8 and refuses NUL-free text that is not */
	if (utf8 == NULL || memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: not UTF-8 text", key->json);
		goto fail;
	}
	if (key->offset == MOCK_FAULT_FIELD(retry_after)) {
		for (i = 0; i < len; i++) {
			if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
				snprintf(err, errlen, "%s: a header value cannot hold control characters", key->json);
				goto fail;
			}
		}
	}
	copy = strndup(text, len);
	if (copy == NULL) {
		snprintf(err, errlen, "%s: out of memory", key->json);
		goto fail;
	}
	json_decref(utf8);
	free(*field);
	*field = copy;
	return 0;
fail:
	json_decref(utf8);
	return -1;
}

/* Stores a number after the range check shared by both parsers. */
static int mock_fault_set_number(struct mock_fault_set *set, const struct mock_fault_key *key, long long v,
				 char *err, size_t errlen)
{
	if (v < key->min || v > key->max) {
		snprintf(err, errlen, "%s: %lld is out of range %lld..%lld", key->json, v, key->min, key->max);
		return -1;
	}
	*mock_fault_number(set, key) = v;
	return 0;
}

static int mock_fault_set_rate(struct mock_fault_set *set, const struct mock_fault_key *key, double v,
			       char *err, size_t errlen)
{
	if (!(v >= 0.0 && v <= 1.0)) {
		snprintf(err, errlen, "%s: %g is not a probability between 0 and 1", key->json, v);
		return -1;
	}
	*mock_fault_rate(set, key) = v;
	return 0;
}

int mock_fault_set_option(struct mock_fault_set *set, const char *option, const char *value,
			  char *err, size_t errlen)
{
	const struct mock_fault_key *key = mock_fault_key_by_option(option);
	long long number;
	char *end;
	double rate;

	if (key == NULL) {
		snprintf(err, errlen, "%s: unknown option", option);
		return -1;
	}
	switch (key->kind) {
	case MOCK_FAULT_FLAG:
		*mock_fault_flag(set, key) = true;
		return 0;
	case MOCK_FAULT_NUMBER:
		if (mock_faults_parse_number(value, &number) < 0)
			goto bad;
		return mock_fault_set_number(set, key, number, err, errlen);
	case MOCK_FAULT_MS:
		if (mock_faults_parse_ms(value, &number) < 0)
			goto bad;
		return mock_fault_set_number(set, key, number, err, errlen);
	case MOCK_FAULT_RATE:
		errno = 0;
		rate = strtod(value, &end);
		if (errno != 0 || end == value || *end != '\0')
			goto bad;
		return mock_fault_set_rate(set, key, rate, err, errlen);
	case MOCK_FAULT_TEXT:
		return mock_fault_set_text(set, key, value, strlen(value), err, errlen);
	}
bad:
	snprintf(err, errlen, "%s: \"%s\" is not %s", option, value,
		 key->kind == MOCK_FAULT_MS ? "a duration (250ms, 2s)" :
		 key->kind == MOCK_FAULT_RATE ? "a number between 0 and 1" : "a whole number");
	return -1;
}

/* Applies one JSON key to set. */
static int mock_fault_set_json_key(struct mock_fault_set *set, const struct mock_fault_key *key, const json_t *value,
				   char *err, size_t errlen)
{
	char number_text[32];
	long long number;

	if (json_is_null(value))
		return 0;
	switch (key->kind) {
	case MOCK_FAULT_FLAG:
		if (!json_is_boolean(value))
			goto bad;
		*mock_fault_flag(set, key) = json_is_true(value);
		return 0;
	case MOCK_FAULT_NUMBER:
		if (!json_is_integer(value))
			goto bad;
		return mock_fault_set_number(set, key, json_integer_value(value), err, errlen);
	case MOCK_FAULT_MS:
		if (json_is_integer(value))
			return mock_fault_set_number(set, key, json_integer_value(value), err, errlen);
		if (!json_is_string(value) || mock_faults_parse_ms(json_string_value(value), &number) < 0)
			goto bad;
		return mock_fault_set_number(set, key, number, err, errlen);
	case MOCK_FAULT_RATE:
		if (!json_is_number(value))
			goto bad;
		return mock_fault_set_rate(set, key, json_number_value(value), err, errlen);
	case MOCK_FAULT_TEXT:
		if (json_is_integer(value)) {
			/* retry_after may be given as a number of seconds */
			snprintf(number_text, sizeof number_text, "%lld", (long long)json_integer_value(value));
			return mock_fault_set_text(set, key, number_text, strlen(number_text), err, errlen);
		}
		if (!json_is_string(value))
			goto bad;
		return mock_fault_set_text(set, key, json_string_value(value), json_string_length(value), err, errlen);
	}
bad:
	snprintf(err, errlen, "%s: expected %s", key->json,
		 key->kind == MOCK_FAULT_FLAG ? "true or false" :
		 key->kind == MOCK_FAULT_NUMBER ? "a whole number" :
		 key->kind == MOCK_FAULT_MS ? "milliseconds (a number, or a string like \"250ms\" or \"2s\")" :
		 key->kind == MOCK_FAULT_RATE ? "a number between 0 and 1" : "a string");
	return -1;
}

struct mock_fault_set *mock_fault_set_from_json(const json_t *object, char *err, size_t errlen)
{
	struct mock_fault_set *set = NULL;
	const struct mock_fault_key *key;
	const char *name;
	json_t *value;

	if (!json_is_object(object)) {
		snprintf(err, errlen, "the fault set must be a JSON object");
		goto fail;
	}
	set = mock_fault_set_new();
	if (set == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	json_object_foreach((json_t *)object, name, value) {
		key = mock_fault_key_by_json(name);
		if (key == NULL) {
			snprintf(err, errlen, "%s: unknown fault key", name);
			goto fail;
		}
		if (mock_fault_set_json_key(set, key, value, err, errlen) < 0)
			goto fail;
	}
	return set;
fail:
	mock_fault_set_release(set);
	return NULL;
}

/* The active keys of set as a JSON object. */
static json_t *mock_fault_set_json(struct mock_fault_set *set)
{
	json_t *out = json_object();
	size_t i;

	for (i = 0; out != NULL && i < MOCK_FAULT_KEYS; i++) {
		const struct mock_fault_key *key = &mock_fault_keys[i];
		json_t *value = NULL;

		switch (key->kind) {
		case MOCK_FAULT_FLAG:
			if (*mock_fault_flag(set, key))
				value = json_true();
			break;
		case MOCK_FAULT_NUMBER:
		case MOCK_FAULT_MS:
			if (*mock_fault_number(set, key) != key->off)
				value = json_integer(*mock_fault_number(set, key));
			break;
		case MOCK_FAULT_RATE:
			if (*mock_fault_rate(set, key) != 0.0)
				value = json_real(*mock_fault_rate(set, key));
			break;
		case MOCK_FAULT_TEXT:
			if (*mock_fault_text(set, key) != NULL)
				value = json_string(*mock_fault_text(set, key));
			break;
		}
		if (value != NULL)
			json_object_set_new(out, key->json, value);
	}
	return out;
}

void mock_fault_set_usage(FILE *out)
{
	size_t i;

	for (i = 0; i < MOCK_FAULT_KEYS; i++) {
		const struct mock_fault_key *key = &mock_fault_keys[i];
		char left[40];

		if (key->option == NULL)
			continue;
		snprintf(left, sizeof left, "%s%s", key->option,
			 key->kind == MOCK_FAULT_FLAG ? "" :
			 key->kind == MOCK_FAULT_MS ? " DURATION" :
			 key->kind == MOCK_FAULT_RATE ? " P" :
			 key->kind == MOCK_FAULT_TEXT ? " TEXT" : " N");
		fprintf(out, "  %-26s %s\n", left, key->help);
	}
}

struct mock_faults {
	pthread_mutex_t lock;        /* guards everything below; held for a few loads and stores per request */
	struct mock_fault_set *set;  /* one reference held here */
	struct mock_fault_set *none; /* the empty set `times` falls back to; one reference held here */
	long long remaining;         /* requests left while set->times > 0 */
	uint64_t rng;                /* splitmix64 state for fail_rate */
};

struct mock_faults *mock_faults_new(struct mock_fault_set *initial, uint64_t seed)
{
	struct mock_faults *faults = calloc(1, sizeof *faults);

	if (faults == NULL)
		goto fail;
	faults->none = mock_fault_set_new();
	if (faults->none == NULL || pthread_mutex_init(&faults->lock, NULL) != 0)
		goto fail;
	faults->set = initial;
	faults->remaining = initial->times;
	faults->rng = seed;
	return faults;
fail:
	if (faults != NULL)
		mock_fault_set_release(faults->none);
	free(faults);
	mock_fault_set_release(initial);
	return NULL;
}

void mock_faults_free(struct mock_faults *faults)
{
	if (faults == NULL)
		return;
	mock_fault_set_release(faults->set);
	mock_fault_set_release(faults->none);
	pthread_mutex_destroy(&faults->lock);
	free(faults);
}

void mock_faults_replace(struct mock_faults *faults, struct mock_fault_set *set)
{
	struct mock_fault_set *old;

	pthread_mutex_lock(&faults->lock);
	old = faults->set;
	faults->set = set;
	faults->remaining = set->times;
	pthread_mutex_unlock(&faults->lock);
	mock_fault_set_release(old);
}

/* splitmix64 as a double in [0, 1): reproducible for a given --seed, which is the point. */
static double mock_faults_draw(struct mock_faults *faults)
{
	uint64_t z = (faults->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

struct mock_fault_set *mock_faults_take(struct mock_faults *faults, bool *fail)
{
	struct mock_fault_set *set;
	struct mock_fault_set *spent = NULL;

	pthread_mutex_lock(&faults->lock);
	set = faults->set;
	atomic_fetch_add(&set->refs, 1);
	*fail = set->fail_rate > 0 && mock_faults_draw(faults) < set->fail_rate;
	if (set->times > 0 && --faults->remaining <= 0) {
		spent = set;
		faults->set = faults->none;
		atomic_fetch_add(&faults->none->refs, 1);
		faults->remaining = 0;
	}
	pthread_mutex_unlock(&faults->lock);
	mock_fault_set_release(spent);
	return set;
}

json_t *mock_faults_json(struct mock_faults *faults)
{
	json_t *out;

	pthread_mutex_lock(&faults->lock);
	out = mock_fault_set_json(faults->set);
	if (out != NULL && faults->set->times > 0)
		json_object_set_new(out, "remaining", json_integer(faults->remaining));
	pthread_mutex_unlock(&faults->lock);
	return out;
}
