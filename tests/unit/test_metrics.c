/* test_metrics.c — tokens by upstream and model: slots, the "other" overflow, the page, and a reload's carry. */
#include <stdio.h>
#include <string.h>

#include "config_load.h"
#include "metrics.h"
#include "suites.h"
#include "upstream.h"

static struct config *cfg;
static struct upstream ups[2];
static struct metrics sets[2];

static void setup(void)
{
	static const char yaml[] =
		"upstreams:\n"
		"  openai: { base_url: http://a }\n"
		"  claude: { base_url: http://c, provider: anthropic }\n"
		"models:\n  \"*\": { targets: [ { upstream: openai }, { upstream: claude } ] }\n";
	char err[512];

	ck_assert_msg(config_load_string("test.yaml", yaml, strlen(yaml), &cfg, err, sizeof err) == 0, "%s", err);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_msg(upstream_init(&ups[i], &cfg->upstreams[i], err, sizeof err) == 0, "%s", err);
		ck_assert_int_eq(metrics_init(&sets[i], cfg->nupstreams, cfg->nroutes), 0);
	}
}

static void teardown(void)
{
	for (size_t i = 0; i < 2; i++) {
		upstream_free(&ups[i]);
		metrics_free(&sets[i]);
	}
	config_free(cfg);
}

/* The page of sets[0..nsets), NUL-terminated in out. */
static void render(struct metrics *m, size_t nsets, struct buf *out)
{
	struct metrics_scrape sc = { cfg, m, nsets, ups, NULL, 0 };

	buf_init(out, 4 * 1024 * 1024);
	ck_assert_int_eq(metrics_render(&sc, out), 0);
	ck_assert_int_eq(buf_append(out, "", 1), 0);
}

static bool has_line(const struct buf *page, const char *line)
{
	char want[512];

	snprintf(want, sizeof want, "\n%s\n", line);
	return strstr(page->data, want) != NULL;
}

START_TEST(tokens_are_summed_by_upstream_and_model_over_the_sets)
{
	struct buf page;

	metrics_tokens(&sets[0], 0, "gpt-4o", 10, 2, 1);
	metrics_tokens(&sets[1], 0, "gpt-4o", 5, 1, 0);
	metrics_tokens(&sets[1], 1, "claude-3-5-haiku-latest", 7, 3, 4);
	metrics_tokens(&sets[0], 0, "a \"quoted\\ name", 1, 1, 1);
	render(sets, 2, &page);
	ck_assert(has_line(&page, "detour_tokens_total{kind=\"prompt\",upstream=\"openai\",model=\"gpt-4o\"} 15"));
	ck_assert(has_line(&page, "detour_tokens_total{kind=\"completion\",upstream=\"openai\",model=\"gpt-4o\"} 3"));
	ck_assert(has_line(&page, "detour_tokens_total{kind=\"cached\",upstream=\"openai\",model=\"gpt-4o\"} 1"));
	ck_assert(has_line(&page, "detour_tokens_total{kind=\"cached\",upstream=\"claude\","
				  "model=\"claude-3-5-haiku-latest\"} 4"));
	ck_assert(has_line(&page, "detour_tokens_total{kind=\"prompt\",upstream=\"openai\","
				  "model=\"a \\\"quoted\\\\ name\"} 1"));
	/* Nothing overflowed: no "other" series. */
	ck_assert_ptr_null(strstr(page.data, "model=\"other\""));
	buf_free(&page);
}
END_TEST

START_TEST(models_past_the_slots_and_odd_names_count_as_other)
{
	char name[32];
	struct buf page;
	int i;

	for (i = 0; i < METRICS_MODELS + 3; i++) {
		snprintf(name, sizeof name, "model-%d", i);
		metrics_tokens(&sets[0], 0, name, 1, 0, 0);
		metrics_tokens(&sets[0], 0, name, 1, 0, 0); /* the second finds its slot */
	}
	metrics_tokens(&sets[0], 0, "bad\nname", 5, 0, 0);
	metrics_tokens(&sets[0], 0, NULL, 7, 0, 0);
	metrics_tokens(&sets[0], 0, "other", 11, 0, 0);
	render(sets, 1, &page);
	ck_assert(has_line(&page, "detour_tokens_total{kind=\"prompt\",upstream=\"openai\",model=\"model-0\"} 2"));
	ck_assert(has_line(&page, "detour_tokens_total{kind=\"prompt\",upstream=\"openai\",model=\"model-63\"} 2"));
	ck_assert_ptr_null(strstr(page.data, "model=\"model-64\""));
	ck_assert(has_line(&page, "detour_tokens_total{kind=\"prompt\",upstream=\"openai\",model=\"other\"} 29"));
	buf_free(&page);
}
END_TEST

START_TEST(a_reload_carries_tokens_by_model_once)
{
	struct metrics into, handed;
	struct metrics_scrape old = { cfg, sets, 2, ups, NULL, 0 };
	struct buf page;

	ck_assert_int_eq(metrics_init(&into, cfg->nupstreams, cfg->nroutes), 0);
	ck_assert_int_eq(metrics_init(&handed, cfg->nupstreams, cfg->nroutes), 0);
	metrics_tokens(&sets[0], 1, "claude-3-5-haiku-latest", 7, 3, 0);
	metrics_tokens(&sets[1], 1, "claude-3-5-haiku-latest", 1, 1, 0);
	metrics_carry(&into, cfg, &old, &handed);
	/* The old workers go on while they drain; the second carry adds only what is new. */
	metrics_tokens(&sets[1], 1, "claude-3-5-haiku-latest", 2, 0, 0);
	metrics_carry(&into, cfg, &old, &handed);
	render(&into, 1, &page);
	ck_assert(has_line(&page, "detour_tokens_total{kind=\"prompt\",upstream=\"claude\","
				  "model=\"claude-3-5-haiku-latest\"} 10"));
	ck_assert(has_line(&page, "detour_tokens_total{kind=\"completion\",upstream=\"claude\","
				  "model=\"claude-3-5-haiku-latest\"} 4"));
	buf_free(&page);
	metrics_free(&into);
	metrics_free(&handed);
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *t = tcase_create("tokens");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, tokens_are_summed_by_upstream_and_model_over_the_sets);
	tcase_add_test(t, models_past_the_slots_and_odd_names_count_as_other);
	tcase_add_test(t, a_reload_carries_tokens_by_model_once);
	suite_add_tcase(s, t);
	return s;
}
