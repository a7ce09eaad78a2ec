/* config_table.c — reads, checks and defaults a configuration section from its table of keys. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "config_reader.h"
#include "config_secret.h"
#include "config_table.h"
#include "units.h"

/*
 * Duplicates are found in O(n^2) compares: fine for the hundreds of models a
 * file may name.
 */
int config_table_check_keys(struct config_reader *r, const yaml_node_t *map,
			    const struct config_section *section)
{
	yaml_node_pair_t *start = map->data.mapping.pairs.start;
	size_t mark = r->pathlen;
	int rc = -1;

	for (yaml_node_pair_t *p = start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = config_reader_node(r, p->key);
		const char *key, *hint = NULL;
		bool found = section == NULL;

		if (k->type != YAML_SCALAR_NODE) {
			config_reader_fail(r, k, "a key must be a string, found %s", config_reader_kind(k->type));
			goto fail;
		}
		if (config_reader_text(r, k, &key) < 0)
			goto fail;
		config_reader_path_key(r, key);
		for (yaml_node_pair_t *q = start; q < p; q++) {
			yaml_node_t *earlier = config_reader_node(r, q->key);

			if (earlier->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)earlier->data.scalar.value, key) == 0) {
				config_reader_fail(r, k, "duplicate key (first at %zu:%zu)",
					    earlier->start_mark.line + 1, earlier->start_mark.column + 1);
				goto fail;
			}
		}
		for (const struct config_key *row = section != NULL ? section->keys : NULL;
		     !found && row->name != NULL; row++) {
			if (strcmp(row->name, key) == 0)
				found = true;
			else if (hint == NULL && config_reader_close(key, row->name))
				hint = row->name;
		}
		if (!found) {
			if (strcmp(key, "<<") == 0)
				config_reader_fail(r, k, "YAML merge keys are not supported; write the keys out");
			else if (hint != NULL)
				config_reader_fail(r, k, "unknown key (did you mean %s?)", hint);
			else
				config_reader_fail(r, k, "unknown key");
			goto fail;
		}
		config_reader_path_leave(r, mark);
	}
	rc = 0;
fail:
	config_reader_path_leave(r, mark);
	return rc;
}

/*
 * Splits "host:port" or "[v6]:port". Returns NULL and a new host in *host, or
 * why text is not an address.
 */
static const char *config_table_split_listen(const char *text, char **host, uint16_t *port)
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
		if (config_reader_space(*p) || *p == '[' || *p == ']' || (unsigned char)*p < 0x20)
			return "is not host:port";
	if (units_parse_uint(colon + 1, 65535, &n) < 0 || n == 0)
		return "needs a port 1..65535";
	if ((*host = strndup(hoststart, (size_t)(hostend - hoststart))) == NULL)
		return "out of memory";
	*port = (uint16_t)n;
	return NULL;
}

/* Stores v into the width-byte number at slot (an unsigned, a size_t, a uint64_t, an enum, a uint16_t). */
static void config_table_store(void *slot, size_t width, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (width) {
	case 1:
		memcpy(slot, &u8, 1);
		break;
	case 2:
		memcpy(slot, &u16, 2);
		break;
	case 4:
		memcpy(slot, &u32, 4);
		break;
	default:
		memcpy(slot, &v, sizeof v);
		break;
	}
}

/* A whole number within the row's limits. */
static int config_table_parse_uint(const struct config_key *key, const char *text, uint64_t *out,
				   char *why, size_t whylen)
{
	char shown[CONFIG_SHOW_MAX + 16];
	int parsed = units_parse_uint(text, key->max, out);

	if (parsed == -1)
		snprintf(why, whylen, "%s is not a whole number", config_reader_show(text, shown, sizeof shown));
	else if (parsed == -2)
		snprintf(why, whylen, "must be at most %" PRIu64, key->max);
	else if (*out < key->min)
		snprintf(why, whylen, "must be at least %" PRIu64, key->min);
	else
		return 0;
	return -1;
}

static int config_table_parse_duration(const struct config_key *key, const char *text, uint64_t *out,
				       char *why, size_t whylen)
{
	char shown[CONFIG_SHOW_MAX + 16];

	if (units_parse_duration(text, out) < 0)
		snprintf(why, whylen, "%s is not a duration", config_reader_show(text, shown, sizeof shown));
	else if (*out > CONFIG_TABLE_DURATION_MAX)
		snprintf(why, whylen, "must be at most 576h");
	else if (*out < key->min && key->min == 1)
		snprintf(why, whylen, "must be above 0");
	else if (*out < key->min)
		snprintf(why, whylen, "must be at least %" PRIu64 "ms", key->min);
	else
		return 0;
	return -1;
}

static int config_table_parse_size(const struct config_key *key, const char *text, uint64_t *out,
				   char *why, size_t whylen)
{
	char shown[CONFIG_SHOW_MAX + 16];
	size_t bytes = 0;

	if (units_parse_size(text, &bytes) < 0)
		snprintf(why, whylen, "%s is not a size", config_reader_show(text, shown, sizeof shown));
	else if (bytes < key->min)
		snprintf(why, whylen, "must be at least %" PRIu64 " bytes", key->min);
	else {
		*out = bytes;
		return 0;
	}
	return -1;
}

/* true/false, also yes/no and on/off in any case. */
static int config_table_parse_bool(const char *text, uint64_t *out, char *why, size_t whylen)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	char shown[CONFIG_SHOW_MAX + 16];

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
			*out = strcasecmp(text, yes[i]) == 0;
			return 0;
		}
	}
	snprintf(why, whylen, "%s is not true or false", config_reader_show(text, shown, sizeof shown));
	return -1;
}

static int config_table_parse_choice(const struct config_key *key, const char *text, uint64_t *out,
				     char *why, size_t whylen)
{
	char list[256] = "", shown[CONFIG_SHOW_MAX + 16];
	size_t o = 0;
	int i = config_reader_choice_index(text, key->choices);

	if (i >= 0) {
		*out = (uint64_t)i;
		return 0;
	}
	for (size_t n = 0; key->choices[n] != NULL && o < sizeof list; n++)
		o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", n > 0 ? ", " : "", key->choices[n]);
	snprintf(why, whylen, "%s is not one of %s", config_reader_show(text, shown, sizeof shown), list);
	return -1;
}

/* A copy of a non-empty string, one line unless the row allows more. */
static int config_table_parse_string(const struct config_key *key, const char *text, char **out,
				     char *why, size_t whylen)
{
	if (*text == '\0')
		snprintf(why, whylen, "must not be empty");
	else if ((key->flags & CONFIG_TABLE_MULTILINE) == 0 && config_reader_has_control(text))
		snprintf(why, whylen, "must be one line, without control characters");
	else if ((*out = strdup(text)) == NULL)
		snprintf(why, whylen, "out of memory");
	else
		return 0;
	return -1;
}

static int config_table_parse_listen(const struct config_key *key, const char *text, void *base,
				     char *why, size_t whylen)
{
	char shown[CONFIG_SHOW_MAX + 16], *host = NULL, **slot = (char **)((char *)base + key->offset);
	uint16_t port = 0;
	const char *problem = config_table_split_listen(text, &host, &port);

	if (problem != NULL) {
		snprintf(why, whylen, "%s %s", config_reader_show(text, shown, sizeof shown), problem);
		return -1;
	}
	free(*slot);
	*slot = host;
	config_table_store((char *)base + key->aux, sizeof port, port);
	return 0;
}

/*
 * Parses text as a scalar row's value and stores it into base; -1 with why
 * filled in when it is not one. Used for the file's values and the defaults alike.
 */
static int config_table_parse(const struct config_key *key, const char *text, void *base,
			      char *why, size_t whylen)
{
	void *slot = (char *)base + key->offset;
	uint64_t v = 0;
	char *copy = NULL;
	int rc = -1;

	switch (key->type) {
	case CONFIG_TABLE_DURATION:
		rc = config_table_parse_duration(key, text, &v, why, whylen);
		break;
	case CONFIG_TABLE_SIZE:
		rc = config_table_parse_size(key, text, &v, why, whylen);
		break;
	case CONFIG_TABLE_UINT:
		rc = config_table_parse_uint(key, text, &v, why, whylen);
		break;
	case CONFIG_TABLE_BOOL:
		rc = config_table_parse_bool(text, &v, why, whylen);
		break;
	case CONFIG_TABLE_CHOICE:
		rc = config_table_parse_choice(key, text, &v, why, whylen);
		break;
	case CONFIG_TABLE_STRING:
		if ((rc = config_table_parse_string(key, text, &copy, why, whylen)) == 0) {
			free(*(char **)slot);
			*(char **)slot = copy;
		}
		return rc;
	case CONFIG_TABLE_LISTEN:
		return config_table_parse_listen(key, text, base, why, whylen);
	default:
		snprintf(why, whylen, "not a scalar key");
		return -1;
	}
	if (rc == 0)
		config_table_store(slot, key->width, v);
	return rc;
}

/* FLAGS: the bits named by a sequence of choices. */
static int config_table_read_flags(struct config_reader *r, const struct config_key *key,
				   const yaml_node_t *v, void *base)
{
	unsigned bits = 0;

	if (config_reader_expect(r, v, YAML_SEQUENCE_NODE) < 0)
		return -1;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *item = config_reader_node(r, *it);
		size_t at = config_reader_path_index(r, (size_t)(it - v->data.sequence.items.start));
		const char *text;
		int i;

		if (config_reader_text(r, item, &text) < 0)
			return -1;
		if ((i = config_reader_choice_index(text, key->choices)) < 0)
			return config_reader_fail_choice(r, item, text, key->choices);
		bits |= 1u << i;
		config_reader_path_leave(r, at);
	}
	config_table_store((char *)base + key->offset, key->width, bits);
	return 0;
}

/* FLAGS default: the words of def, separated by ", ". */
static void config_table_default_flags(const struct config_key *key, void *base)
{
	unsigned bits = 0;

	for (int i = 0; key->choices[i] != NULL; i++) {
		size_t len = strlen(key->choices[i]);

		for (const char *p = strstr(key->def, key->choices[i]); p != NULL;
		     p = strstr(p + 1, key->choices[i]))
			if ((p == key->def || p[-1] == ' ') && (p[len] == '\0' || p[len] == ','))
				bits |= 1u << i;
	}
	config_table_store((char *)base + key->offset, key->width, bits);
}

/* A scalar row's value node into base. */
static int config_table_read_scalar(struct config_reader *r, const struct config_key *key,
				    const yaml_node_t *v, void *base)
{
	char why[512];
	const char *text;

	if (key->type == CONFIG_TABLE_LISTEN && v->type == YAML_SEQUENCE_NODE)
		return config_reader_fail(r, v, "expected a string, found a sequence (quote an IPv6 address: \"[::1]:8080\")");
	if (config_reader_text(r, v, &text) < 0)
		return -1;
	if (config_table_parse(key, text, base, why, sizeof why) < 0)
		return config_reader_fail(r, v, "%s", why);
	return 0;
}

/* A MAP row: its section read when present, its finish run either way. */
static int config_table_read_map(struct config_reader *r, const struct config_key *key,
				 const yaml_node_t *v, void *base)
{
	void *sub = (char *)base + key->offset;

	if (v != NULL && (key->flags & CONFIG_TABLE_OR_OFF) && v->type == YAML_SCALAR_NODE) {
		const char *text;

		if (config_reader_text(r, v, &text) < 0)
			return -1;
		if (strcmp(text, "off") != 0)
			return config_reader_fail(r, v, "expected a mapping or off, found \"%s\"", text);
		*(bool *)((char *)sub + key->aux) = true;
		v = NULL;
	}
	if (v == NULL)
		return key->section->finish != NULL ? key->section->finish(r, NULL, sub) : 0;
	return config_table_read(r, v, v, key->section, sub);
}

/* One row; the path is at the section. */
static int config_table_read_key(struct config_reader *r, const yaml_node_t *map, const yaml_node_t *where,
				 const struct config_key *key, void *base)
{
	yaml_node_t *k, *v = config_reader_get(r, map, key->name, &k);
	size_t mark = r->pathlen;
	int rc = -1;

	if (key->type == CONFIG_TABLE_SECRET_ENV) {
		rc = config_secret_read(r, map, key->name, key[1].name, (char **)((char *)base + key->offset));
		goto fail;
	}
	if (key->type == CONFIG_TABLE_SECRET_FILE) {
		rc = 0; /* read with the SECRET_ENV row before it */
		goto fail;
	}
	config_reader_path_key(r, key->name);
	if (v == NULL && (key->flags & CONFIG_TABLE_REQUIRED) != 0) {
		config_reader_missing(r, k, where);
		goto fail;
	}
	if (key->type == CONFIG_TABLE_CUSTOM)
		rc = key->read(r, key, v, k, where, base);
	else if (key->type == CONFIG_TABLE_MAP)
		rc = config_table_read_map(r, key, v, base);
	else if (v == NULL)
		rc = 0;
	else if (key->type == CONFIG_TABLE_FLAGS)
		rc = config_table_read_flags(r, key, v, base);
	else
		rc = config_table_read_scalar(r, key, v, base);
fail:
	config_reader_path_leave(r, mark);
	return rc;
}

int config_table_read(struct config_reader *r, const yaml_node_t *map, const yaml_node_t *where,
		      const struct config_section *section, void *base)
{
	if (map != NULL && (config_reader_expect(r, map, YAML_MAPPING_NODE) < 0 ||
			    config_table_check_keys(r, map, section) < 0))
		return -1;
	for (const struct config_key *key = section->keys; key->name != NULL; key++)
		if (config_table_read_key(r, map, where, key, base) < 0)
			return -1;
	if (section->finish != NULL && section->finish(r, map, base) < 0)
		return -1;
	return 0;
}

int config_table_defaults(const struct config_section *section, void *base)
{
	char why[512];

	for (const struct config_key *key = section->keys; key->name != NULL; key++) {
		if (key->type == CONFIG_TABLE_MAP) {
			if (config_table_defaults(key->section, (char *)base + key->offset) < 0)
				return -1;
		} else if (key->def == NULL || key->type == CONFIG_TABLE_CUSTOM) {
			continue;
		} else if (key->type == CONFIG_TABLE_FLAGS) {
			config_table_default_flags(key, base);
		} else if (config_table_parse(key, key->def, base, why, sizeof why) < 0) {
			return -1; /* out of memory: the tables' own defaults always parse (a unit test checks) */
		}
	}
	return 0;
}
