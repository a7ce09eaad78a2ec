/* test_router.c — which route a model name picks, and the order a route's targets are tried in. */
#include <stdbool.h>
#include <string.h>

#include "config.h"
#include "config_load.h"
#include "router.h"
#include "suites.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char routed_yaml[] =
	"upstreams:\n"
	"  openai:\n    base_url: http://openai\n"
	"  anthropic:\n    base_url: http://anthropic\n"
	"  groq:\n    base_url: http://groq\n"
	"models:\n"
	"  gpt-4o:\n"
	"    targets:\n"
	"      - { upstream: openai, model: gpt-4o }\n"
	"      - { upstream: anthropic, model: claude-3-5-haiku-latest }\n"
	"      - { upstream: groq, model: llama-3.1-8b-instant }\n"
	"  spread:\n"
	"    strategy: weighted\n"
	"    targets:\n"
	"      - { upstream: openai, weight: 1 }\n"
	"      - { upstream: anthropic, weight: 0 }\n"
	"      - { upstream: groq, weight: 3 }\n"
	"  \"*\":\n"
	"    targets: [ { upstream: openai } ]\n";

static const char no_catch_all_yaml[] =
	"upstreams:\n"
	"  openai:\n    base_url: http://openai\n"
	"models:\n"
	"  gpt-4o:\n"
	"    targets: [ { upstream: openai } ]\n";

static struct config *load(const char *yaml)
{
	struct config *cfg = NULL;
	char err[512] = "";

	ck_assert_msg(config_load_string("router.yaml", yaml, strlen(yaml), &cfg, err, sizeof err) == 0,
		      "refused: %s", err);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/* Checks order[0..n) holds every index below n exactly once. */
static void assert_permutation(const size_t *order, size_t n)
{
	bool seen[ROUTER_MAX_TARGETS] = { false };
	size_t i;

	for (i = 0; i < n; i++) {
		ck_assert_uint_lt(order[i], n);
		ck_assert_msg(!seen[order[i]], "index %zu appears twice", order[i]);
		seen[order[i]] = true;
	}
}

/* ---- router_find ---------------------------------------------------------- */

START_TEST(exact_model_name_picks_its_own_route)
{
	struct config *cfg = load(routed_yaml);
	const struct config_route *r = router_find(cfg, "gpt-4o");

	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "gpt-4o");
	ck_assert_uint_eq(r->ntargets, 3);
	ck_assert_str_eq(r->targets[1].upstream->name, "anthropic");
	ck_assert_str_eq(router_find(cfg, "spread")->name, "spread");
	config_free(cfg);
}
END_TEST

START_TEST(exact_name_wins_over_the_catch_all_declared_after_it)
{
	static const char yaml[] =
		"upstreams:\n"
		"  openai:\n    base_url: http://openai\n"
		"  groq:\n    base_url: http://groq\n"
		"models:\n"
		"  \"*\":\n    targets: [ { upstream: openai } ]\n"
		"  llama:\n    targets: [ { upstream: groq } ]\n";
	struct config *cfg = load(yaml);
	const struct config_route *r = router_find(cfg, "llama");

	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "llama");
	ck_assert_str_eq(r->targets[0].upstream->name, "groq");
	config_free(cfg);
}
END_TEST

START_TEST(unknown_model_falls_to_the_catch_all)
{
	struct config *cfg = load(routed_yaml);
	const struct config_route *r = router_find(cfg, "gpt-3.5-turbo");

	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_eq(r, cfg->catch_all);
	ck_assert_str_eq(r->name, "*");
	config_free(cfg);
}
END_TEST

START_TEST(model_name_matches_exactly_not_by_prefix_or_case)
{
	struct config *cfg = load(routed_yaml);

	ck_assert_ptr_eq(router_find(cfg, "gpt-4o-mini"), cfg->catch_all);
	ck_assert_ptr_eq(router_find(cfg, "gpt-4"), cfg->catch_all);
	ck_assert_ptr_eq(router_find(cfg, "GPT-4o"), cfg->catch_all);
	ck_assert_ptr_eq(router_find(cfg, ""), cfg->catch_all);
	config_free(cfg);
}
END_TEST

START_TEST(unknown_model_without_catch_all_finds_nothing)
{
	struct config *cfg = load(no_catch_all_yaml);

	ck_assert_ptr_null(cfg->catch_all);
	ck_assert_ptr_null(router_find(cfg, "gpt-3.5-turbo"));
	ck_assert_ptr_null(router_find(cfg, "*x"));
	ck_assert_ptr_nonnull(router_find(cfg, "gpt-4o"));
	config_free(cfg);
}
END_TEST

/* ---- router_order: fallback ---------------------------------------------- */

START_TEST(fallback_route_tries_targets_in_configured_order)
{
	struct config *cfg = load(routed_yaml);
	const struct config_route *r = router_find(cfg, "gpt-4o");
	size_t order[ROUTER_MAX_TARGETS];
	uint64_t draws[] = { 0, 1, 2, 3, 12345, UINT64_MAX };
	size_t d;

	ck_assert_int_eq(r->strategy, CONFIG_STRATEGY_FALLBACK);
	for (d = 0; d < COUNT(draws); d++) {
		memset(order, 0xff, sizeof order);
		ck_assert_uint_eq(router_order(r->strategy, r->targets, r->ntargets, draws[d], order), 3);
		ck_assert_uint_eq(order[0], 0);
		ck_assert_uint_eq(order[1], 1);
		ck_assert_uint_eq(order[2], 2);
	}
	config_free(cfg);
}
END_TEST

START_TEST(single_target_route_orders_just_that_target)
{
	struct config *cfg = load(routed_yaml);
	size_t order[ROUTER_MAX_TARGETS];

	ck_assert_uint_eq(router_order(cfg->catch_all->strategy, cfg->catch_all->targets, 1, 99, order), 1);
	ck_assert_uint_eq(order[0], 0);
	ck_assert_uint_eq(router_order(CONFIG_STRATEGY_WEIGHTED, cfg->catch_all->targets, 1, 99, order), 1);
	ck_assert_uint_eq(order[0], 0);
	config_free(cfg);
}
END_TEST

START_TEST(empty_target_list_orders_nothing)
{
	size_t order[ROUTER_MAX_TARGETS];

	ck_assert_uint_eq(router_order(CONFIG_STRATEGY_FALLBACK, NULL, 0, 7, order), 0);
	ck_assert_uint_eq(router_order(CONFIG_STRATEGY_WEIGHTED, NULL, 0, 7, order), 0);
}
END_TEST

/* ---- router_order: weighted ---------------------------------------------- */

/* Weights {1,0,3}: of every 4 draws, 0 picks openai and 1..3 pick groq; anthropic never leads. */
static const struct {
	uint64_t draw;
	size_t order[3];
} weighted_cases[] = {
	{ 0, { 0, 1, 2 } },
	{ 1, { 2, 0, 1 } },
	{ 2, { 2, 0, 1 } },
	{ 3, { 2, 0, 1 } },
	{ 4, { 0, 1, 2 } },
	{ 5, { 2, 0, 1 } },
	{ 1000, { 0, 1, 2 } },
	{ 1003, { 2, 0, 1 } },
	{ UINT64_MAX, { 2, 0, 1 } }, /* 2^64-1 ≡ 3 (mod 4) */
};

START_TEST(weighted_draw_picks_the_first_by_weight_then_the_rest_in_order)
{
	struct config *cfg = load(routed_yaml);
	const struct config_route *r = router_find(cfg, "spread");
	size_t order[ROUTER_MAX_TARGETS];

	ck_assert_int_eq(r->strategy, CONFIG_STRATEGY_WEIGHTED);
	ck_assert_uint_eq(r->targets[0].weight, 1);
	ck_assert_uint_eq(r->targets[1].weight, 0);
	ck_assert_uint_eq(r->targets[2].weight, 3);
	ck_assert_uint_eq(router_order(r->strategy, r->targets, r->ntargets, weighted_cases[_i].draw, order), 3);
	ck_assert_msg(order[0] == weighted_cases[_i].order[0] && order[1] == weighted_cases[_i].order[1] &&
			      order[2] == weighted_cases[_i].order[2],
		      "draw %llu: got %zu,%zu,%zu", (unsigned long long)weighted_cases[_i].draw, order[0],
		      order[1], order[2]);
	config_free(cfg);
}
END_TEST

START_TEST(zero_weight_target_never_leads_but_is_still_tried)
{
	struct config *cfg = load(routed_yaml);
	const struct config_route *r = router_find(cfg, "spread");
	size_t order[ROUTER_MAX_TARGETS], leads[3] = { 0, 0, 0 };
	uint64_t draw;

	for (draw = 0; draw < 400; draw++) {
		size_t n = router_order(r->strategy, r->targets, r->ntargets, draw * 2654435761u, order), i;
		bool anthropic_tried = false;

		ck_assert_uint_eq(n, 3);
		assert_permutation(order, n);
		leads[order[0]]++;
		for (i = 1; i < n; i++)
			anthropic_tried |= order[i] == 1;
		ck_assert(anthropic_tried);
	}
	ck_assert_uint_eq(leads[1], 0);
	ck_assert_uint_eq(leads[0] + leads[2], 400);
	/* Draws that are uniform mod 4 share leads 1:3. */
	ck_assert_uint_eq(leads[0], 100);
	ck_assert_uint_eq(leads[2], 300);
	config_free(cfg);
}
END_TEST

START_TEST(weighted_order_of_a_full_route_holds_every_target_once)
{
	struct config_upstream up = { .name = "u" };
	struct config_target targets[ROUTER_MAX_TARGETS];
	size_t order[ROUTER_MAX_TARGETS], n = ROUTER_MAX_TARGETS, i, first;
	uint64_t draw;

	memset(targets, 0, sizeof targets);
	for (i = 0; i < n; i++) {
		targets[i].upstream = &up;
		targets[i].weight = (unsigned)(i % 3); /* 0,1,2,0,1,2,... */
	}
	for (draw = 0; draw < 200; draw++) {
		ck_assert_uint_eq(router_order(CONFIG_STRATEGY_WEIGHTED, targets, n, draw * 7919, order), n);
		assert_permutation(order, n);
		first = order[0];
		ck_assert_uint_ne(targets[first].weight, 0);
		/* The rest keep their configured order. */
		for (i = 2; i < n; i++)
			ck_assert_uint_lt(order[i - 1], order[i]);
	}
}
END_TEST

START_TEST(order_never_lists_more_than_router_max_targets)
{
	struct config_upstream up = { .name = "u" };
	struct config_target targets[ROUTER_MAX_TARGETS + 8];
	size_t order[ROUTER_MAX_TARGETS + 8], i;

	memset(targets, 0, sizeof targets);
	memset(order, 0xff, sizeof order);
	for (i = 0; i < COUNT(targets); i++) {
		targets[i].upstream = &up;
		targets[i].weight = 1;
	}
	ck_assert_uint_eq(router_order(CONFIG_STRATEGY_FALLBACK, targets, COUNT(targets), 0, order),
			  ROUTER_MAX_TARGETS);
	assert_permutation(order, ROUTER_MAX_TARGETS);
	ck_assert_uint_eq(order[ROUTER_MAX_TARGETS], (size_t)-1);
	ck_assert_uint_eq(router_order(CONFIG_STRATEGY_WEIGHTED, targets, COUNT(targets), 35, order),
			  ROUTER_MAX_TARGETS);
	assert_permutation(order, ROUTER_MAX_TARGETS);
	ck_assert_uint_eq(order[0], 35 % ROUTER_MAX_TARGETS);
}
END_TEST

Suite *router_suite(void)
{
	Suite *s = suite_create("router");
	TCase *find = tcase_create("find");
	TCase *order = tcase_create("order");

	tcase_add_test(find, exact_model_name_picks_its_own_route);
	tcase_add_test(find, exact_name_wins_over_the_catch_all_declared_after_it);
	tcase_add_test(find, unknown_model_falls_to_the_catch_all);
	tcase_add_test(find, model_name_matches_exactly_not_by_prefix_or_case);
	tcase_add_test(find, unknown_model_without_catch_all_finds_nothing);
	suite_add_tcase(s, find);

	tcase_add_test(order, fallback_route_tries_targets_in_configured_order);
	tcase_add_test(order, single_target_route_orders_just_that_target);
	tcase_add_test(order, empty_target_list_orders_nothing);
	tcase_add_loop_test(order, weighted_draw_picks_the_first_by_weight_then_the_rest_in_order, 0,
			    (int)COUNT(weighted_cases));
	tcase_add_test(order, zero_weight_target_never_leads_but_is_still_tried);
	tcase_add_test(order, weighted_order_of_a_full_route_holds_every_target_once);
	tcase_add_test(order, order_never_lists_more_than_router_max_targets);
	suite_add_tcase(s, order);
	return s;
}
