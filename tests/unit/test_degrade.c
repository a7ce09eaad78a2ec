/* test_degrade.c — the cascade order, the targets and limits of each level, and the pinned floor. */
#include <check.h>
#include <string.h>

#include "config.h"
#include "degrade.h"
#include "suites.h"

START_TEST(auto_cascades_full_reduced_minimal_cached_offline)
{
	enum config_level l = degrade_first_level(CONFIG_LEVEL_AUTO);

	ck_assert_int_eq(l, CONFIG_LEVEL_FULL);
	l = degrade_next_level(CONFIG_LEVEL_AUTO, l, true, true);
	ck_assert_int_eq(l, CONFIG_LEVEL_REDUCED);
	l = degrade_next_level(CONFIG_LEVEL_AUTO, l, true, true);
	ck_assert_int_eq(l, CONFIG_LEVEL_MINIMAL);
	l = degrade_next_level(CONFIG_LEVEL_AUTO, l, true, true);
	ck_assert_int_eq(l, CONFIG_LEVEL_CACHED);
	l = degrade_next_level(CONFIG_LEVEL_AUTO, l, true, true);
	ck_assert_int_eq(l, CONFIG_LEVEL_OFFLINE);
	ck_assert_int_eq(degrade_next_level(CONFIG_LEVEL_AUTO, l, true, true), CONFIG_LEVEL_AUTO);
}
END_TEST

START_TEST(levels_without_a_cache_or_message_are_passed_over)
{
	ck_assert_int_eq(degrade_next_level(CONFIG_LEVEL_AUTO, CONFIG_LEVEL_MINIMAL, false, true), CONFIG_LEVEL_OFFLINE);
	ck_assert_int_eq(degrade_next_level(CONFIG_LEVEL_AUTO, CONFIG_LEVEL_MINIMAL, true, false), CONFIG_LEVEL_CACHED);
	ck_assert_int_eq(degrade_next_level(CONFIG_LEVEL_AUTO, CONFIG_LEVEL_CACHED, true, false), CONFIG_LEVEL_AUTO);
	ck_assert_int_eq(degrade_next_level(CONFIG_LEVEL_AUTO, CONFIG_LEVEL_MINIMAL, false, false), CONFIG_LEVEL_AUTO);
}
END_TEST

START_TEST(mode_full_turns_degradation_off)
{
	ck_assert_int_eq(degrade_first_level(CONFIG_LEVEL_FULL), CONFIG_LEVEL_FULL);
	ck_assert_int_eq(degrade_next_level(CONFIG_LEVEL_FULL, CONFIG_LEVEL_FULL, true, true), CONFIG_LEVEL_AUTO);
}
END_TEST

START_TEST(a_pinned_floor_starts_there_and_cascades_below)
{
	ck_assert_int_eq(degrade_first_level(CONFIG_LEVEL_CACHED), CONFIG_LEVEL_CACHED);
	ck_assert_int_eq(degrade_next_level(CONFIG_LEVEL_CACHED, CONFIG_LEVEL_CACHED, true, true), CONFIG_LEVEL_OFFLINE);
	ck_assert(!degrade_calls_upstreams(CONFIG_LEVEL_CACHED));
	ck_assert(!degrade_calls_upstreams(CONFIG_LEVEL_OFFLINE));
	ck_assert(degrade_calls_upstreams(CONFIG_LEVEL_MINIMAL));
}
END_TEST

START_TEST(reduced_levels_use_the_routes_reduced_targets_when_it_has_them)
{
	struct config_upstream u = { .name = "u" };
	struct config_target full[2] = { { &u, "big", 0, 1 }, { &u, "big2", 0, 1 } };
	struct config_target cheap[1] = { { &u, "small", 0, 1 } };
	struct config_route with = { "m", CONFIG_STRATEGY_FALLBACK, full, 2, cheap, 1, { CONFIG_ON_CUT_INHERIT, 0, false } };
	struct config_route without = { "m", CONFIG_STRATEGY_FALLBACK, full, 2, NULL, 0, { CONFIG_ON_CUT_INHERIT, 0, false } };
	size_t n;

	ck_assert_ptr_eq(degrade_targets(&with, CONFIG_LEVEL_FULL, &n), full);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_eq(degrade_targets(&with, CONFIG_LEVEL_REDUCED, &n), cheap);
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_eq(degrade_targets(&with, CONFIG_LEVEL_MINIMAL, &n), cheap);
	ck_assert_ptr_eq(degrade_targets(&without, CONFIG_LEVEL_REDUCED, &n), full);
	ck_assert_uint_eq(n, 2);
}
END_TEST

START_TEST(level_limits_take_the_smaller_cap_and_the_levels_drops)
{
	struct config cfg;
	struct config_upstream u = { .name = "u" };
	struct config_target capped = { &u, "m", 100, 1 }, open = { &u, NULL, 0, 1 }, roomy = { &u, "m", 4096, 1 };
	struct request_changes c;

	memset(&cfg, 0, sizeof cfg);
	cfg.degradation.reduced.max_tokens = 2048;
	cfg.degradation.reduced.drop = CONFIG_DROP_TOOLS;
	cfg.degradation.minimal.max_tokens = 512;
	cfg.degradation.minimal.drop = CONFIG_DROP_TOOLS | CONFIG_DROP_STREAM;
	degrade_changes(&cfg, CONFIG_LEVEL_FULL, &open, &c);
	ck_assert_uint_eq(c.max_tokens, 0);
	ck_assert_uint_eq(c.drop, 0);
	ck_assert_ptr_null(c.model);
	degrade_changes(&cfg, CONFIG_LEVEL_REDUCED, &open, &c);
	ck_assert_uint_eq(c.max_tokens, 2048);
	ck_assert_uint_eq(c.drop, CONFIG_DROP_TOOLS);
	degrade_changes(&cfg, CONFIG_LEVEL_REDUCED, &capped, &c);
	ck_assert_uint_eq(c.max_tokens, 100);
	ck_assert_str_eq(c.model, "m");
	degrade_changes(&cfg, CONFIG_LEVEL_REDUCED, &roomy, &c);   /* the level's cap is the smaller */
	ck_assert_uint_eq(c.max_tokens, 2048);
	degrade_changes(&cfg, CONFIG_LEVEL_MINIMAL, &open, &c);
	ck_assert_uint_eq(c.max_tokens, 512);
	ck_assert_uint_eq(c.drop, CONFIG_DROP_TOOLS | CONFIG_DROP_STREAM);
}
END_TEST

START_TEST(recent_degraded_answers_are_remembered_for_a_minute)
{
	struct degrade d;

	degrade_init(&d, CONFIG_LEVEL_AUTO);
	ck_assert_int_eq(degrade_recent_level(&d, 1000), CONFIG_LEVEL_FULL);
	degrade_note_answer(&d, CONFIG_LEVEL_FULL, 1000);
	ck_assert_int_eq(degrade_recent_level(&d, 1000), CONFIG_LEVEL_FULL);
	degrade_note_answer(&d, CONFIG_LEVEL_CACHED, 2000);
	ck_assert_int_eq(degrade_recent_level(&d, 2000 + DEGRADE_RECENT_MS - 1), CONFIG_LEVEL_CACHED);
	ck_assert_int_eq(degrade_recent_level(&d, 2000 + DEGRADE_RECENT_MS), CONFIG_LEVEL_FULL);
}
END_TEST

START_TEST(level_names_parse_and_unknown_ones_do_not)
{
	enum config_level l;

	ck_assert_int_eq(degrade_parse_level("cached", &l), 0);
	ck_assert_int_eq(l, CONFIG_LEVEL_CACHED);
	ck_assert_int_eq(degrade_parse_level("auto", &l), 0);
	ck_assert_int_eq(l, CONFIG_LEVEL_AUTO);
	ck_assert_int_eq(degrade_parse_level("sideways", &l), -1);
	degrade_set_mode(&(struct degrade){ 0 }, CONFIG_LEVEL_OFFLINE);
}
END_TEST

Suite *degrade_suite(void)
{
	Suite *s = suite_create("degrade");
	TCase *tc = tcase_create("cascade");

	tcase_add_test(tc, auto_cascades_full_reduced_minimal_cached_offline);
	tcase_add_test(tc, levels_without_a_cache_or_message_are_passed_over);
	tcase_add_test(tc, mode_full_turns_degradation_off);
	tcase_add_test(tc, a_pinned_floor_starts_there_and_cascades_below);
	tcase_add_test(tc, reduced_levels_use_the_routes_reduced_targets_when_it_has_them);
	tcase_add_test(tc, level_limits_take_the_smaller_cap_and_the_levels_drops);
	tcase_add_test(tc, recent_degraded_answers_are_remembered_for_a_minute);
	tcase_add_test(tc, level_names_parse_and_unknown_ones_do_not);
	suite_add_tcase(s, tc);
	return s;
}
