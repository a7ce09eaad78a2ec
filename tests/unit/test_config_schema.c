/* test_config_schema.c — the configuration's key tables: well formed, and every key documented and shown in the example. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_schema.h"
#include "config_table.h"
#include "suites.h"

#define DOCS_PATH    "docs/configuration.md" /* the unit tests run from the repository's root */
#define EXAMPLE_PATH "conf/detour.yaml"
#define FILE_MAX     (1u << 20)

/* The whole file at path, NUL-terminated (free with free). */
static char *read_whole(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(FILE_MAX + 1);
	size_t n;

	ck_assert_msg(f != NULL, "cannot open %s (run from the repository's root)", path);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, FILE_MAX, f);
	ck_assert_int_lt(n, FILE_MAX);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Whether the example writes name as a key: "name:" with no word character before it. */
static bool example_has_key(const char *text, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = strstr(text, name); p != NULL; p = strstr(p + 1, name))
		if ((p == text || !is_word_char(p[-1])) && p[len] == ':')
			return true;
	return false;
}

/* Calls check on every row reachable from section, depth first. */
static void walk(const struct config_section *section, void (*check)(const struct config_section *,
								    const struct config_key *, void *),
		 void *arg, unsigned depth)
{
	ck_assert_uint_lt(depth, 8);
	for (const struct config_key *key = section->keys; key->name != NULL; key++) {
		check(section, key, arg);
		if (key->section != NULL)
			walk(key->section, check, arg, depth + 1);
	}
}

struct texts {
	const char *docs, *example;
	unsigned rows;
};

static void check_documented(const struct config_section *section, const struct config_key *key, void *arg)
{
	struct texts *t = arg;
	char quoted[128];

	snprintf(quoted, sizeof quoted, "`%s`", key->name);
	ck_assert_msg(strstr(t->docs, quoted) != NULL, "%s.%s is not in " DOCS_PATH, section->name, key->name);
	ck_assert_msg(example_has_key(t->example, key->name), "%s.%s is not in " EXAMPLE_PATH,
		      section->name, key->name);
	t->rows++;
}

START_TEST(every_key_is_documented_and_in_the_example)
{
	struct texts t = { read_whole(DOCS_PATH), read_whole(EXAMPLE_PATH), 0 };

	walk(&config_schema_root, check_documented, &t, 0);
	/* The walk reached the item sections too (upstreams.NAME, targets, degradation.cache...). */
	ck_assert_uint_ge(t.rows, 60);
	free((char *)t.docs);
	free((char *)t.example);
}
END_TEST

static void check_well_formed(const struct config_section *section, const struct config_key *key, void *arg)
{
	(void)arg;
	for (const struct config_key *other = section->keys; other < key; other++)
		ck_assert_msg(strcmp(other->name, key->name) != 0, "%s.%s twice", section->name, key->name);
	switch (key->type) {
	case CONFIG_TABLE_MAP:
		ck_assert_msg(key->section != NULL, "%s.%s: a map without a section", section->name, key->name);
		break;
	case CONFIG_TABLE_CUSTOM:
		ck_assert_msg(key->read != NULL, "%s.%s: custom without a reader", section->name, key->name);
		break;
	case CONFIG_TABLE_CHOICE:
	case CONFIG_TABLE_FLAGS:
		ck_assert_msg(key->choices != NULL, "%s.%s: no choices", section->name, key->name);
		break;
	case CONFIG_TABLE_SECRET_ENV:
		ck_assert_msg(key[1].type == CONFIG_TABLE_SECRET_FILE && key[1].offset == key->offset,
			      "%s.%s: not followed by its file half", section->name, key->name);
		break;
	case CONFIG_TABLE_SECRET_FILE:
		ck_assert_msg(key != section->keys && key[-1].type == CONFIG_TABLE_SECRET_ENV,
			      "%s.%s: not after its env half", section->name, key->name);
		break;
	case CONFIG_TABLE_UINT:
		ck_assert_msg(key->max >= key->min && key->max > 0, "%s.%s: bad range", section->name, key->name);
		break;
	default:
		break;
	}
	/* A required key has no default to fall back on. */
	ck_assert_msg(!(key->flags & CONFIG_TABLE_REQUIRED) || key->def == NULL,
		      "%s.%s: required with a default", section->name, key->name);
}

START_TEST(tables_are_well_formed)
{
	walk(&config_schema_root, check_well_formed, NULL, 0);
}
END_TEST

/* The defaults go through the same parser as the file's values: each must parse and land in its slot. */
START_TEST(defaults_parse_into_their_slots)
{
	struct config cfg;
	struct config_upstream u;
	struct config_target t;

	memset(&cfg, 0, sizeof cfg);
	memset(&u, 0, sizeof u);
	memset(&t, 0, sizeof t);
	ck_assert_int_eq(config_table_defaults(&config_schema_root, &cfg), 0);
	ck_assert_str_eq(cfg.server.host, "127.0.0.1");
	ck_assert_uint_eq(cfg.server.port, 8080);
	ck_assert_uint_eq(cfg.server.max_body, (size_t)4 << 20);
	ck_assert_uint_eq(cfg.server.header_timeout_ms, 10000);
	ck_assert_int_eq(cfg.log.level, LOG_LEVEL_INFO);
	ck_assert_int_eq(cfg.auth.status, CONFIG_STATUS_OPEN);
	ck_assert_uint_eq(cfg.degradation.reduced.max_tokens, 2048);
	ck_assert_uint_eq(cfg.degradation.reduced.drop, CONFIG_DROP_TOOLS);
	ck_assert_uint_eq(cfg.degradation.minimal.drop, CONFIG_DROP_TOOLS | CONFIG_DROP_STREAM);
	ck_assert_uint_eq(cfg.degradation.cache.entries, 10000);
	ck_assert_uint_eq(cfg.degradation.cache.ttl_ms, 3600000);
	free(cfg.server.host);

	ck_assert_int_eq(config_table_defaults(&config_schema_upstream, &u), 0);
	ck_assert_int_eq(u.provider, CONFIG_PROVIDER_OPENAI);
	ck_assert_str_eq(u.anthropic_version, "2023-06-01");
	ck_assert_uint_eq(u.default_max_tokens, 4096);
	ck_assert_uint_eq(u.timeouts.connect_ms, 2000);
	ck_assert_uint_eq(u.retries.base_delay_ms, 200);
	ck_assert_uint_eq(u.breaker.half_open_probes, 1);
	ck_assert_uint_eq(u.health_check.timeout_ms, 5000);
	free(u.anthropic_version);

	ck_assert_int_eq(config_table_defaults(&config_schema_target, &t), 0);
	ck_assert_uint_eq(t.weight, 1);
	ck_assert_ptr_null(t.model);
}
END_TEST

Suite *config_schema_suite(void)
{
	Suite *s = suite_create("config_schema");
	TCase *tc = tcase_create("tables");

	tcase_add_test(tc, tables_are_well_formed);
	tcase_add_test(tc, defaults_parse_into_their_slots);
	tcase_add_test(tc, every_key_is_documented_and_in_the_example);
	suite_add_tcase(s, tc);
	return s;
}
