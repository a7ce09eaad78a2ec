/* mock_fault_set.c — one fault set: its keys, parsed from the command line or JSON, shown as JSON and in --help. */
#include "mock_fault_set.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum mock_fault_set_kind {
	MOCK_FAULT_SET_NUMBER,   /* long long, a whole number */
	MOCK_FAULT_SET_MS,       /* long long milliseconds: "200ms", "2s", "200"; in JSON also a number */
	MOCK_FAULT_SET_FLAG,     /* bool */
	MOCK_FAULT_SET_RATE,     /* double in [0, 1] */
	MOCK_FAULT_SET_TEXT,     /* char *, at most max bytes */
	MOCK_FAULT_SET_HEADERS,  /* json_t * object of name -> string; the option adds one "Name: value" */
};

/*
 * Every fault key once, so the command line, the JSON parser, the JSON view
 * and --help cannot disagree. off is the value of a key that is absent.
 */
struct mock_fault_set_key {
	const char *json;
	const char *option;   /* NULL: JSON only */
	enum mock_fault_set_kind kind;
	size_t offset;
	long long min;
	long long max;        /* for TEXT, the longest value in bytes */
	long long off;
	const char *help;
};

#define MOCK_FAULT_SET_FIELD(f) offsetof(struct mock_fault_set, f)
#define MOCK_FAULT_SET_DAY_MS (24LL * 3600 * 1000)

static const struct mock_fault_set_key mock_fault_set_keys[] = {
	{ "status", "--status", MOCK_FAULT_SET_NUMBER, MOCK_FAULT_SET_FIELD(status), 100, 599, 0,
	  "answer this HTTP status with an error body" },
	{ "retry_after", "--retry-after", MOCK_FAULT_SET_TEXT, MOCK_FAULT_SET_FIELD(retry_after), 0, 63, 0,
	  "Retry-After header on injected errors" },
	{ "retry_after_ms", "--retry-after-ms", MOCK_FAULT_SET_MS, MOCK_FAULT_SET_FIELD(retry_after_ms), 0, MOCK_FAULT_SET_DAY_MS, -1,
	  "retry-after-ms header on injected errors" },
	{ "latency_ms", "--latency", MOCK_FAULT_SET_MS, MOCK_FAULT_SET_FIELD(latency_ms), 0, MOCK_FAULT_SET_DAY_MS, 0,
	  "delay before the response headers (200ms, 2s)" },
	{ "hang", "--hang", MOCK_FAULT_SET_FLAG, MOCK_FAULT_SET_FIELD(hang), 0, 1, 0,
	  "never answer; hold the connection until the client leaves" },
	{ "reset", "--reset", MOCK_FAULT_SET_FLAG, MOCK_FAULT_SET_FIELD(reset), 0, 1, 0,
	  "part of the body, then a TCP RST (stream: RST after the first event)" },
	{ "malformed", "--malformed", MOCK_FAULT_SET_FLAG, MOCK_FAULT_SET_FIELD(malformed), 0, 1, 0,
	  "200 with truncated JSON (stream: one event of broken JSON, then the end)" },
	{ "cut_after", "--cut-after", MOCK_FAULT_SET_NUMBER, MOCK_FAULT_SET_FIELD(cut_after), 0, 1000000, -1,
	  "stream: RST after N content chunks, no [DONE]" },
	{ "stall_after", "--stall-after", MOCK_FAULT_SET_NUMBER, MOCK_FAULT_SET_FIELD(stall_after), 0, 1000000, -1,
	  "stream: go silent after N content chunks, connection kept open" },
	{ "stream_error_after", "--stream-error-after", MOCK_FAULT_SET_NUMBER, MOCK_FAULT_SET_FIELD(stream_error_after), 0, 1000000, -1,
	  "stream: an error event after N content chunks, then the end" },
	{ "fail_rate", "--fail-rate", MOCK_FAULT_SET_RATE, MOCK_FAULT_SET_FIELD(fail_rate), 0, 1, 0,
	  "each request fails with --fail-status with this probability (0..1)" },
	{ "fail_status", "--fail-status", MOCK_FAULT_SET_NUMBER, MOCK_FAULT_SET_FIELD(fail_status), 100, 599, 500,
	  "status of a --fail-rate failure (default 500)" },
	{ "chunks", "--chunks", MOCK_FAULT_SET_NUMBER, MOCK_FAULT_SET_FIELD(chunks), 1, 10000, MOCK_FAULT_SET_DEFAULT_CHUNKS,
	  "content pieces in a stream (default 5)" },
	{ "chunk_delay_ms", "--chunk-delay", MOCK_FAULT_SET_MS, MOCK_FAULT_SET_FIELD(chunk_delay_ms), 0, MOCK_FAULT_SET_DAY_MS, 0,
	  "pause between stream events (20ms)" },
	{ "content", NULL, MOCK_FAULT_SET_TEXT, MOCK_FAULT_SET_FIELD(content), 0, 1 << 20, 0,
	  "answer text in place of --content" },
	{ "times", "--times", MOCK_FAULT_SET_NUMBER, MOCK_FAULT_SET_FIELD(times), 0, 1000000000, 0,
	  "the faults apply to the next N requests only (0: forever)" },
	{ "headers", "--header", MOCK_FAULT_SET_HEADERS, MOCK_FAULT_SET_FIELD(headers), 0, MOCK_FAULT_SET_HEADERS_MAX, 0,
	  "\"Name: value\" header on every API answer (repeatable)" },
	{ "thinking", "--thinking", MOCK_FAULT_SET_TEXT, MOCK_FAULT_SET_FIELD(thinking), 0, 1 << 16, 0,
	  "anthropic: answers open with a thinking block of this text" },
	{ "cache_read_tokens", "--cache-read-tokens", MOCK_FAULT_SET_NUMBER, MOCK_FAULT_SET_FIELD(cache_read_tokens), 0, 1000000000, 0,
	  "anthropic: usage.cache_read_input_tokens" },
	{ "cache_creation_tokens", "--cache-creation-tokens", MOCK_FAULT_SET_NUMBER, MOCK_FAULT_SET_FIELD(cache_creation_tokens), 0, 1000000000, 0,
	  "anthropic: usage.cache_creation_input_tokens" },
	{ "tool_calls", "--tool-calls", MOCK_FAULT_SET_NUMBER, MOCK_FAULT_SET_FIELD(tool_calls), 1, 1000, 1,
	  "anthropic: tool_use blocks in a tool answer (default 1)" },
};

#define MOCK_FAULT_SET_KEYS (sizeof mock_fault_set_keys / sizeof mock_fault_set_keys[0])

static long long *mock_fault_set_number_field(struct mock_fault_set *set, const struct mock_fault_set_key *key)
{
	return (long long *)((char *)set + key->offset);
}

static bool *mock_fault_set_flag_field(struct mock_fault_set *set, const struct mock_fault_set_key *key)
{
	return (bool *)((char *)set + key->offset);
}

static double *mock_fault_set_rate_field(struct mock_fault_set *set, const struct mock_fault_set_key *key)
{
	return (double *)((char *)set + key->offset);
}

static char **mock_fault_set_text_field(struct mock_fault_set *set, const struct mock_fault_set_key *key)
{
	return (char **)((char *)set + key->offset);
}

static json_t **mock_fault_set_headers_field(struct mock_fault_set *set, const struct mock_fault_set_key *key)
{
	return (json_t **)((char *)set + key->offset);
}

struct mock_fault_set *mock_fault_set_new(void)
{
	struct mock_fault_set *set = calloc(1, sizeof *set);
	size_t i;

	if (set == NULL)
		return NULL;
	for (i = 0; i < MOCK_FAULT_SET_KEYS; i++) {
		const struct mock_fault_set_key *key = &mock_fault_set_keys[i];

		if (key->kind == MOCK_FAULT_SET_NUMBER || key->kind == MOCK_FAULT_SET_MS)
			*mock_fault_set_number_field(set, key) = key->off;
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
	free(set->thinking);
	json_decref(set->headers);
	free(set);
}

static const struct mock_fault_set_key *mock_fault_set_key_by_option(const char *option)
{
	size_t i;

	for (i = 0; i < MOCK_FAULT_SET_KEYS; i++)
		if (mock_fault_set_keys[i].option && strcmp(mock_fault_set_keys[i].option, option) == 0)
			return &mock_fault_set_keys[i];
	return NULL;
}

static const struct mock_fault_set_key *mock_fault_set_key_by_json(const char *name)
{
	size_t i;

	for (i = 0; i < MOCK_FAULT_SET_KEYS; i++)
		if (strcmp(mock_fault_set_keys[i].json, name) == 0)
			return &mock_fault_set_keys[i];
	return NULL;
}

int mock_fault_set_option_arity(const char *option)
{
	const struct mock_fault_set_key *key = mock_fault_set_key_by_option(option);

	if (key == NULL)
		return -1;
	return key->kind == MOCK_FAULT_SET_FLAG ? 0 : 1;
}

/* A whole decimal number, nothing around it. */
static int mock_fault_set_parse_number(const char *text, long long *out)
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
static int mock_fault_set_parse_ms(const char *text, long long *out)
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
	if (v > MOCK_FAULT_SET_DAY_MS)
		return -1;
	*out = v * scale;
	return 0;
}

/* Stores text (copied) after checking its length and, for a header value, that it holds no control character. */
static int mock_fault_set_text(struct mock_fault_set *set, const struct mock_fault_set_key *key, const char *text,
			       size_t len, char *err, size_t errlen)
{
	char **field = mock_fault_set_text_field(set, key);
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
	if (key->offset == MOCK_FAULT_SET_FIELD(retry_after)) {
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

/*
 * Adds one answer header: a name of letters, digits, '-' and '_' (under 64
 * bytes) and a value without control characters (under 192 bytes), at most
 * key->max of them. The same name again replaces the value.
 */
static int mock_fault_set_header(struct mock_fault_set *set, const struct mock_fault_set_key *key, const char *name,
				 size_t name_len, const char *value, char *err, size_t errlen)
{
	json_t **field = mock_fault_set_headers_field(set, key);
	char copy[64];
	size_t i;

	if (name_len == 0 || name_len >= sizeof copy) {
		snprintf(err, errlen, "%s: a header name is 1 to 63 bytes", key->json);
		return -1;
	}
	for (i = 0; i < name_len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
			snprintf(err, errlen, "%s: \"%.*s\" is not a header name", key->json, (int)name_len, name);
			return -1;
		}
	}
	memcpy(copy, name, name_len);
	copy[name_len] = '\0';
	for (i = 0; value[i] != '\0'; i++) {
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
			snprintf(err, errlen, "%s: %s: a header value cannot hold control characters", key->json, copy);
			return -1;
		}
	}
	if (i >= 192) {
		snprintf(err, errlen, "%s: %s: a header value is at most 191 bytes", key->json, copy);
		return -1;
	}
	if (*field == NULL && (*field = json_object()) == NULL)
		goto oom;
	if (json_object_get(*field, copy) == NULL && (long long)json_object_size(*field) >= key->max) {
		snprintf(err, errlen, "%s: at most %lld headers", key->json, key->max);
		return -1;
	}
	if (json_object_set_new(*field, copy, json_string(value)) < 0)
		goto oom;
	return 0;
oom:
	snprintf(err, errlen, "%s: out of memory or not UTF-8", key->json);
	return -1;
}

/* Stores a number after the range check shared by both parsers. */
static int mock_fault_set_number(struct mock_fault_set *set, const struct mock_fault_set_key *key, long long v,
				 char *err, size_t errlen)
{
	if (v < key->min || v > key->max) {
		snprintf(err, errlen, "%s: %lld is out of range %lld..%lld", key->json, v, key->min, key->max);
		return -1;
	}
	*mock_fault_set_number_field(set, key) = v;
	return 0;
}

static int mock_fault_set_rate(struct mock_fault_set *set, const struct mock_fault_set_key *key, double v,
			       char *err, size_t errlen)
{
	if (!(v >= 0.0 && v <= 1.0)) {
		snprintf(err, errlen, "%s: %g is not a probability between 0 and 1", key->json, v);
		return -1;
	}
	*mock_fault_set_rate_field(set, key) = v;
	return 0;
}

int mock_fault_set_option(struct mock_fault_set *set, const char *option, const char *value,
			  char *err, size_t errlen)
{
	const struct mock_fault_set_key *key = mock_fault_set_key_by_option(option);
	long long number;
	const char *colon;
	char *end;
	double rate;

	if (key == NULL) {
		snprintf(err, errlen, "%s: unknown option", option);
		return -1;
	}
	switch (key->kind) {
	case MOCK_FAULT_SET_FLAG:
		*mock_fault_set_flag_field(set, key) = true;
		return 0;
	case MOCK_FAULT_SET_NUMBER:
		if (mock_fault_set_parse_number(value, &number) < 0)
			goto bad;
		return mock_fault_set_number(set, key, number, err, errlen);
	case MOCK_FAULT_SET_MS:
		if (mock_fault_set_parse_ms(value, &number) < 0)
			goto bad;
		return mock_fault_set_number(set, key, number, err, errlen);
	case MOCK_FAULT_SET_RATE:
		errno = 0;
		rate = strtod(value, &end);
		if (errno != 0 || end == value || *end != '\0')
			goto bad;
		return mock_fault_set_rate(set, key, rate, err, errlen);
	case MOCK_FAULT_SET_TEXT:
		return mock_fault_set_text(set, key, value, strlen(value), err, errlen);
	case MOCK_FAULT_SET_HEADERS:
		colon = strchr(value, ':');
		if (colon == NULL)
			goto bad;
		return mock_fault_set_header(set, key, value, (size_t)(colon - value),
					     colon + 1 + strspn(colon + 1, " \t"), err, errlen);
	}
bad:
	snprintf(err, errlen, "%s: \"%s\" is not %s", option, value,
		 key->kind == MOCK_FAULT_SET_HEADERS ? "\"Name: value\"" :
		 key->kind == MOCK_FAULT_SET_MS ? "a duration (250ms, 2s)" :
		 key->kind == MOCK_FAULT_SET_RATE ? "a number between 0 and 1" : "a whole number");
	return -1;
}

/* Applies one JSON key to set. */
static int mock_fault_set_apply_json(struct mock_fault_set *set, const struct mock_fault_set_key *key, const json_t *value,
				   char *err, size_t errlen)
{
	char number_text[32];
	const char *name;
	json_t *header;
	long long number;

	if (json_is_null(value))
		return 0;
	switch (key->kind) {
	case MOCK_FAULT_SET_FLAG:
		if (!json_is_boolean(value))
			goto bad;
		*mock_fault_set_flag_field(set, key) = json_is_true(value);
		return 0;
	case MOCK_FAULT_SET_NUMBER:
		if (!json_is_integer(value))
			goto bad;
		return mock_fault_set_number(set, key, json_integer_value(value), err, errlen);
	case MOCK_FAULT_SET_MS:
		if (json_is_integer(value))
			return mock_fault_set_number(set, key, json_integer_value(value), err, errlen);
		if (!json_is_string(value) || mock_fault_set_parse_ms(json_string_value(value), &number) < 0)
			goto bad;
		return mock_fault_set_number(set, key, number, err, errlen);
	case MOCK_FAULT_SET_RATE:
		if (!json_is_number(value))
			goto bad;
		return mock_fault_set_rate(set, key, json_number_value(value), err, errlen);
	case MOCK_FAULT_SET_TEXT:
		if (json_is_integer(value)) {
			/* retry_after may be given as a number of seconds */
			snprintf(number_text, sizeof number_text, "%lld", (long long)json_integer_value(value));
			return mock_fault_set_text(set, key, number_text, strlen(number_text), err, errlen);
		}
		if (!json_is_string(value))
			goto bad;
		return mock_fault_set_text(set, key, json_string_value(value), json_string_length(value), err, errlen);
	case MOCK_FAULT_SET_HEADERS:
		if (!json_is_object(value))
			goto bad;
		json_object_foreach((json_t *)value, name, header) {
			if (!json_is_string(header)) {
				snprintf(err, errlen, "%s: %s: expected a string", key->json, name);
				return -1;
			}
			if (mock_fault_set_header(set, key, name, strlen(name), json_string_value(header), err, errlen) < 0)
				return -1;
		}
		return 0;
	}
bad:
	snprintf(err, errlen, "%s: expected %s", key->json,
		 key->kind == MOCK_FAULT_SET_FLAG ? "true or false" :
		 key->kind == MOCK_FAULT_SET_NUMBER ? "a whole number" :
		 key->kind == MOCK_FAULT_SET_MS ? "milliseconds (a number, or a string like \"250ms\" or \"2s\")" :
		 key->kind == MOCK_FAULT_SET_RATE ? "a number between 0 and 1" :
		 key->kind == MOCK_FAULT_SET_HEADERS ? "an object of header names to strings" : "a string");
	return -1;
}

struct mock_fault_set *mock_fault_set_from_json(const json_t *object, char *err, size_t errlen)
{
	struct mock_fault_set *set = NULL;
	const struct mock_fault_set_key *key;
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
		key = mock_fault_set_key_by_json(name);
		if (key == NULL) {
			snprintf(err, errlen, "%s: unknown fault key", name);
			goto fail;
		}
		if (mock_fault_set_apply_json(set, key, value, err, errlen) < 0)
			goto fail;
	}
	return set;
fail:
	mock_fault_set_release(set);
	return NULL;
}

json_t *mock_fault_set_json(struct mock_fault_set *set)
{
	json_t *out = json_object();
	size_t i;

	for (i = 0; out != NULL && i < MOCK_FAULT_SET_KEYS; i++) {
		const struct mock_fault_set_key *key = &mock_fault_set_keys[i];
		json_t *value = NULL;

		switch (key->kind) {
		case MOCK_FAULT_SET_FLAG:
			if (*mock_fault_set_flag_field(set, key))
				value = json_true();
			break;
		case MOCK_FAULT_SET_NUMBER:
		case MOCK_FAULT_SET_MS:
			if (*mock_fault_set_number_field(set, key) != key->off)
				value = json_integer(*mock_fault_set_number_field(set, key));
			break;
		case MOCK_FAULT_SET_RATE:
			if (*mock_fault_set_rate_field(set, key) != 0.0)
				value = json_real(*mock_fault_set_rate_field(set, key));
			break;
		case MOCK_FAULT_SET_TEXT:
			if (*mock_fault_set_text_field(set, key) != NULL)
				value = json_string(*mock_fault_set_text_field(set, key));
			break;
		case MOCK_FAULT_SET_HEADERS:
			/* a copy: requests read the set's object from other threads, its count must not move */
			if (*mock_fault_set_headers_field(set, key) != NULL)
				value = json_deep_copy(*mock_fault_set_headers_field(set, key));
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

	for (i = 0; i < MOCK_FAULT_SET_KEYS; i++) {
		const struct mock_fault_set_key *key = &mock_fault_set_keys[i];
		char left[40];

		if (key->option == NULL)
			continue;
		snprintf(left, sizeof left, "%s%s", key->option,
			 key->kind == MOCK_FAULT_SET_FLAG ? "" :
			 key->kind == MOCK_FAULT_SET_MS ? " DURATION" :
			 key->kind == MOCK_FAULT_SET_RATE ? " P" :
			 key->kind == MOCK_FAULT_SET_TEXT ? " TEXT" :
			 key->kind == MOCK_FAULT_SET_HEADERS ? " 'NAME: V'" : " N");
		fprintf(out, "  %-26s %s\n", left, key->help);
	}
}
