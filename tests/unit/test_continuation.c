/* test_continuation.c — may a cut stream be continued: each reason for no, and the route's streams over the top level's. */
#include <string.h>

#include "config.h"
#include "config_load.h"
#include "continuation.h"
#include "suites.h"

static struct continuation_case go_case(void)
{
	struct continuation_case c = {
		.streams = { CONFIG_ON_CUT_CONTINUE, 1, false },
		.used = 0,
		.in_tool_call = false,
		.text_whole = true,
		.choices = 1,
		.chat_chunks = true,
		.now_ms = 1000,
		.deadline_ms = 2000,
	};

	return c;
}

START_TEST(a_plain_cut_is_continued)
{
	struct continuation_case c = go_case();

	ck_assert_int_eq(continuation_decide(&c), CONTINUATION_GO);
	ck_assert_str_eq(continuation_verdict_name(CONTINUATION_GO), "go");
}
END_TEST

START_TEST(each_reason_says_no)
{
	struct continuation_case c;

	c = go_case();
	c.streams.on_cut = CONFIG_ON_CUT_ERROR;
	ck_assert_int_eq(continuation_decide(&c), CONTINUATION_OFF);
	c = go_case();
	c.used = 1;
	ck_assert_int_eq(continuation_decide(&c), CONTINUATION_SPENT);
	c.streams.max_continuations = 2;
	ck_assert_int_eq(continuation_decide(&c), CONTINUATION_GO);
	c = go_case();
	c.in_tool_call = true;
	ck_assert_int_eq(continuation_decide(&c), CONTINUATION_TOOL_CALL);
	c = go_case();
	c.choices = 2;
	ck_assert_int_eq(continuation_decide(&c), CONTINUATION_CHOICES);
	c = go_case();
	c.chat_chunks = false;
	ck_assert_int_eq(continuation_decide(&c), CONTINUATION_NOT_CHAT);
	c = go_case();
	c.text_whole = false;
	ck_assert_int_eq(continuation_decide(&c), CONTINUATION_TOO_LONG);
	c = go_case();
	c.now_ms = c.deadline_ms;
	ck_assert_int_eq(continuation_decide(&c), CONTINUATION_DEADLINE);
	ck_assert_str_eq(continuation_verdict_name(CONTINUATION_TOOL_CALL), "tool_call");
}
END_TEST

#define UPSTREAMS "upstreams:\n  a:\n    base_url: http://a\n"

static struct config *load(const char *yaml)
{
	struct config *cfg = NULL;
	char err[512] = "";

	ck_assert_msg(config_load_string("streams.yaml", yaml, strlen(yaml), &cfg, err, sizeof err) == 0,
		      "refused: %s", err);
	return cfg;
}

START_TEST(the_default_is_todays_error)
{
	struct config *cfg = load(UPSTREAMS "models:\n  \"*\":\n    targets: [ { upstream: a } ]\n");
	struct config_streams s = config_route_streams(cfg, &cfg->routes[0]);

	ck_assert_int_eq(s.on_cut, CONFIG_ON_CUT_ERROR);
	ck_assert_uint_eq(s.max_continuations, 1);
	ck_assert(!s.cache_continued);
	ck_assert_int_eq(cfg->upstreams[0].prefill, CONFIG_PREFILL_INSTRUCT);
	config_free(cfg);
}
END_TEST

START_TEST(a_route_overrides_what_it_names)
{
	struct config *cfg = load(UPSTREAMS "    prefill: native\n"
				  "streams: { on_cut: continue, max_continuations: 3, cache_continued: true }\n"
				  "models:\n  m:\n    targets: [ { upstream: a } ]\n    streams: { on_cut: error }\n"
				  "  n:\n    targets: [ { upstream: a } ]\n    streams: { max_continuations: 2 }\n"
				  "  \"*\":\n    targets: [ { upstream: a } ]\n");
	struct config_streams m = config_route_streams(cfg, &cfg->routes[0]);
	struct config_streams n = config_route_streams(cfg, &cfg->routes[1]);
	struct config_streams all = config_route_streams(cfg, &cfg->routes[2]);

	ck_assert_int_eq(m.on_cut, CONFIG_ON_CUT_ERROR);
	ck_assert_uint_eq(m.max_continuations, 3);
	ck_assert_int_eq(n.on_cut, CONFIG_ON_CUT_CONTINUE);
	ck_assert_uint_eq(n.max_continuations, 2);
	ck_assert_int_eq(all.on_cut, CONFIG_ON_CUT_CONTINUE);
	ck_assert(all.cache_continued);
	ck_assert_int_eq(cfg->upstreams[0].prefill, CONFIG_PREFILL_NATIVE);
	config_free(cfg);
}
END_TEST

START_TEST(zero_continuations_is_refused)
{
	const char *yaml = UPSTREAMS "streams: { max_continuations: 0 }\n"
			   "models:\n  \"*\":\n    targets: [ { upstream: a } ]\n";
	struct config *cfg = NULL;
	char err[512] = "";

	ck_assert_int_ne(config_load_string("streams.yaml", yaml, strlen(yaml), &cfg, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "max_continuations"));
}
END_TEST

Suite *continuation_suite(void)
{
	Suite *s = suite_create("continuation");
	TCase *policy = tcase_create("policy"), *config = tcase_create("config");

	tcase_add_test(policy, a_plain_cut_is_continued);
	tcase_add_test(policy, each_reason_says_no);
	suite_add_tcase(s, policy);
	tcase_add_test(config, the_default_is_todays_error);
	tcase_add_test(config, a_route_overrides_what_it_names);
	tcase_add_test(config, zero_continuations_is_refused);
	suite_add_tcase(s, config);
	return s;
}
