/* units.c — turns the configuration's durations ("30s") and sizes ("4MiB") into numbers, strictly. */
#include <stdint.h>
#include <string.h>

#include "units.h"

struct units_suffix {
	const char *text;
	uint64_t factor;
};

/* A suffix must match the whole rest of the text, so "m" never takes the "m" of "ms". */
static const struct units_suffix units_durations[] = {
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60 * 1000 },
	{ "h", 60 * 60 * 1000 },
};

/* KB, MB, GB are what people type; they mean the same powers of 1024 here, as in nginx. */
static const struct units_suffix units_sizes[] = {
	{ "", 1 },
	{ "B", 1 },
	{ "KiB", UINT64_C(1) << 10 },
	{ "MiB", UINT64_C(1) << 20 },
	{ "GiB", UINT64_C(1) << 30 },
	{ "KB", UINT64_C(1) << 10 },
	{ "MB", UINT64_C(1) << 20 },
	{ "GB", UINT64_C(1) << 30 },
};

/*
 * Reads the leading digits of text into *value and points *rest past them.
 * Returns -1 when there is no digit, -2 as soon as the number passes limit.
 */
static int units_digits(const char *text, uint64_t limit, uint64_t *value, const char **rest)
{
	const char *p = text;
	uint64_t v = 0;

	while (*p >= '0' && *p <= '9') {
		uint64_t d = (uint64_t)(*p - '0');

		if (v > (limit - d) / 10)
			return -2;
		v = v * 10 + d;
		p++;
	}
	if (p == text)
		return -1;
	*value = v;
	*rest = p;
	return 0;
}

int units_parse_uint(const char *text, uint64_t max, uint64_t *out)
{
	const char *rest = "";
	uint64_t v = 0;
	int rc;

	if (text == NULL)
		return -1;
	/* Digits past max are too large even when a non-digit follows them. */
	rc = units_digits(text, max, &v, &rest);
	if (rc == -2)
		return -2;
	if (rc < 0 || *rest != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Number times the factor of the suffix named by rest, or -1 when rest names none or it overflows limit. */
static int units_scale(uint64_t number, const char *rest, const struct units_suffix *table,
		       size_t n, uint64_t limit, uint64_t *result)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rest, table[i].text) != 0)
			continue;
		if (number > limit / table[i].factor)
			return -1;
		*result = number * table[i].factor;
		return 0;
	}
	return -1;
}

int units_parse_duration(const char *text, uint64_t *ms)
{
	const char *rest;
	uint64_t number, result;

	if (text == NULL || units_digits(text, UINT64_MAX, &number, &rest) != 0)
		return -1;
	if (*rest == '\0') {
		/* A bare number has no unit; only zero means the same in every unit. */
		if (number != 0)
			return -1;
		*ms = 0;
		return 0;
	}
	if (units_scale(number, rest, units_durations,
			sizeof units_durations / sizeof units_durations[0], UINT64_MAX, &result) < 0)
		return -1;
	*ms = result;
	return 0;
}

int units_parse_size(const char *text, size_t *bytes)
{
	const char *rest;
	uint64_t number, result;

	if (text == NULL || units_digits(text, SIZE_MAX, &number, &rest) != 0)
		return -1;
	if (units_scale(number, rest, units_sizes, sizeof units_sizes / sizeof units_sizes[0],
			SIZE_MAX, &result) < 0)
		return -1;
	*bytes = (size_t)result;
	return 0;
}
