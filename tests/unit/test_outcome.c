/* test_outcome.c — what one attempt's result means under the default fallback_on and a custom one. */
#include <string.h>

#include "config.h"
#include "config_load.h"
#include "outcome.h"
#include "suites.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define MINIMAL "upstreams:\n  openai:\n    base_url: http://a\n" \
		"models:\n  \"*\":\n    targets: [ { upstream: openai } ]\n"

static struct config *default_cfg, *custom_cfg, *client_errors_cfg;

static struct config *load(const char *yaml)
{
	struct config *cfg = NULL;
	char err[512] = "";

	ck_assert_msg(config_load_string("outcome.yaml", yaml, strlen(yaml), &cfg, err, sizeof err) == 0,
		      "refused: %s", err);
	return cfg;
}

static void load_configs(void)
{
	default_cfg = load(MINIMAL);
	/* Only overload and timeouts move on; everything else is the client's to see. */
	custom_cfg = load(MINIMAL "fallback_on: [503, timeout]\n");
	/* Someone who names every 4xx, 400 included. */
	client_errors_cfg = load(MINIMAL "fallback_on: [4xx, 5xx, connect]\n");
}

static void free_configs(void)
{
	config_free(default_cfg);
	config_free(custom_cfg);
	config_free(client_errors_cfg);
}

static const struct config_fallback *default_fb(void)
{
	return &default_cfg->fallback_on;
}

static const struct config_fallback *custom_fb(void)
{
	return &custom_cfg->fallback_on;
}

/* ---- HTTP answers under the default list --------------------------------- */

static const unsigned success_statuses[] = { 200, 201, 202, 204, 206, 299 };

START_TEST(any_2xx_answer_is_a_success)
{
	unsigned status = success_statuses[_i];

	ck_assert_int_eq(outcome_classify(default_fb(), ENGINE_OK, status), OUTCOME_SUCCESS);
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_OK, status), OUTCOME_SUCCESS);
	ck_assert(!outcome_upstream_fault(default_fb(), ENGINE_OK, status));
}
END_TEST

static const unsigned default_fall_over_statuses[] = {
	503, 500, 502, 504, 529, 599, 429, 408, 409, 401, 403, 404,
};

START_TEST(default_list_falls_over_on_overload_rate_limit_and_bad_credentials)
{
	unsigned status = default_fall_over_statuses[_i];

	ck_assert_msg(outcome_classify(default_fb(), ENGINE_OK, status) == OUTCOME_FALL_OVER, "status %u", status);
	ck_assert_msg(outcome_upstream_fault(default_fb(), ENGINE_OK, status), "status %u", status);
}
END_TEST

static const unsigned default_pass_through_statuses[] = { 400, 422, 402, 405, 413, 415, 304, 302, 100 };

START_TEST(default_list_passes_client_errors_through)
{
	unsigned status = default_pass_through_statuses[_i];

	ck_assert_msg(outcome_classify(default_fb(), ENGINE_OK, status) == OUTCOME_PASS_THROUGH, "status %u", status);
	ck_assert_msg(!outcome_upstream_fault(default_fb(), ENGINE_OK, status), "status %u", status);
}
END_TEST

/* ---- transport faults ----------------------------------------------------- */

START_TEST(default_list_falls_over_on_every_transport_fault)
{
	static const enum engine_error faults[] = { ENGINE_CONNECT, ENGINE_TIMEOUT, ENGINE_PROTOCOL, ENGINE_TOO_LARGE };
	size_t i;

	for (i = 0; i < COUNT(faults); i++) {
		ck_assert_int_eq(outcome_classify(default_fb(), faults[i], 0), OUTCOME_FALL_OVER);
		ck_assert(outcome_upstream_fault(default_fb(), faults[i], 0));
	}
}
END_TEST

START_TEST(custom_list_falls_over_only_on_what_it_names)
{
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_OK, 503), OUTCOME_FALL_OVER);
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_TIMEOUT, 0), OUTCOME_FALL_OVER);
	ck_assert(outcome_upstream_fault(custom_fb(), ENGINE_OK, 503));
	ck_assert(outcome_upstream_fault(custom_fb(), ENGINE_TIMEOUT, 0));

	/* Statuses it does not name go back to the client as they are. */
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_OK, 500), OUTCOME_PASS_THROUGH);
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_OK, 502), OUTCOME_PASS_THROUGH);
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_OK, 429), OUTCOME_PASS_THROUGH);
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_OK, 401), OUTCOME_PASS_THROUGH);
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_OK, 404), OUTCOME_PASS_THROUGH);
	ck_assert(!outcome_upstream_fault(custom_fb(), ENGINE_OK, 500));
	ck_assert(!outcome_upstream_fault(custom_fb(), ENGINE_OK, 429));
}
END_TEST

START_TEST(custom_list_gives_up_on_unnamed_connect_and_protocol_faults)
{
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_CONNECT, 0), OUTCOME_GIVE_UP);
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_PROTOCOL, 0), OUTCOME_GIVE_UP);
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_TOO_LARGE, 0), OUTCOME_GIVE_UP);
	ck_assert(!outcome_upstream_fault(custom_fb(), ENGINE_CONNECT, 0));
	ck_assert(!outcome_upstream_fault(custom_fb(), ENGINE_PROTOCOL, 0));
	ck_assert(!outcome_upstream_fault(custom_fb(), ENGINE_TOO_LARGE, 0));
}
END_TEST

START_TEST(too_large_answer_follows_the_protocol_word)
{
	struct config *cfg = load(MINIMAL "fallback_on: [protocol]\n");

	ck_assert_int_eq(outcome_classify(&cfg->fallback_on, ENGINE_TOO_LARGE, 200), OUTCOME_FALL_OVER);
	ck_assert_int_eq(outcome_classify(&cfg->fallback_on, ENGINE_PROTOCOL, 0), OUTCOME_FALL_OVER);
	ck_assert_int_eq(outcome_classify(&cfg->fallback_on, ENGINE_CONNECT, 0), OUTCOME_GIVE_UP);
	ck_assert_int_eq(outcome_classify(&cfg->fallback_on, ENGINE_TIMEOUT, 0), OUTCOME_GIVE_UP);
	ck_assert_int_eq(outcome_classify(&cfg->fallback_on, ENGINE_OK, 503), OUTCOME_PASS_THROUGH);
	config_free(cfg);
}
END_TEST

START_TEST(transport_fault_ignores_the_status_that_came_with_it)
{
	/* A body cut short after "HTTP/1.1 200" is still a protocol fault. */
	ck_assert_int_eq(outcome_classify(default_fb(), ENGINE_PROTOCOL, 200), OUTCOME_FALL_OVER);
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_PROTOCOL, 200), OUTCOME_GIVE_UP);
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_TIMEOUT, 400), OUTCOME_FALL_OVER);
}
END_TEST

/* ---- detour's own trouble ------------------------------------------------- */

START_TEST(internal_failure_always_falls_over_and_never_blames_the_upstream)
{
	ck_assert_int_eq(outcome_classify(default_fb(), ENGINE_INTERNAL, 0), OUTCOME_FALL_OVER);
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_INTERNAL, 0), OUTCOME_FALL_OVER);
	ck_assert_int_eq(outcome_classify(custom_fb(), ENGINE_INTERNAL, 503), OUTCOME_FALL_OVER);
	ck_assert(!outcome_upstream_fault(default_fb(), ENGINE_INTERNAL, 0));
	ck_assert(!outcome_upstream_fault(custom_fb(), ENGINE_INTERNAL, 0));
	ck_assert(!outcome_upstream_fault(default_fb(), ENGINE_INTERNAL, 503));
}
END_TEST

START_TEST(empty_list_still_falls_over_on_internal_failure)
{
	struct config_fallback none;

	memset(&none, 0, sizeof none);
	ck_assert_int_eq(outcome_classify(&none, ENGINE_INTERNAL, 0), OUTCOME_FALL_OVER);
	ck_assert_int_eq(outcome_classify(&none, ENGINE_CONNECT, 0), OUTCOME_GIVE_UP);
	ck_assert_int_eq(outcome_classify(&none, ENGINE_OK, 503), OUTCOME_PASS_THROUGH);
	ck_assert_int_eq(outcome_classify(&none, ENGINE_OK, 200), OUTCOME_SUCCESS);
}
END_TEST

/* ---- a client's 400 ------------------------------------------------------- */

START_TEST(client_400_never_blames_the_upstream)
{
	ck_assert(!outcome_upstream_fault(default_fb(), ENGINE_OK, 400));
	ck_assert(!outcome_upstream_fault(custom_fb(), ENGINE_OK, 400));
}
END_TEST

START_TEST(client_400_never_blames_the_upstream_even_when_4xx_is_named)
{
	const struct config_fallback *fb = &client_errors_cfg->fallback_on;

	/* The list asks to move on, so detour does; the breaker must not count it. */
	ck_assert_int_eq(outcome_classify(fb, ENGINE_OK, 400), OUTCOME_FALL_OVER);
	ck_assert(outcome_upstream_fault(fb, ENGINE_OK, 404));
	ck_assert(outcome_upstream_fault(fb, ENGINE_OK, 500));
	ck_assert_msg(!outcome_upstream_fault(fb, ENGINE_OK, 400),
		      "a client's 400 counted against the upstream's breaker");
}
END_TEST

START_TEST(outcomes_have_names_for_logs)
{
	ck_assert_str_eq(outcome_name(OUTCOME_SUCCESS), "success");
	ck_assert_str_eq(outcome_name(OUTCOME_FALL_OVER), "fall_over");
	ck_assert_str_eq(outcome_name(OUTCOME_PASS_THROUGH), "pass_through");
	ck_assert_str_eq(outcome_name(OUTCOME_GIVE_UP), "give_up");
	ck_assert_str_eq(outcome_name((enum outcome)42), "unknown");
}
END_TEST

Suite *outcome_suite(void)
{
	Suite *s = suite_create("outcome");
	TCase *http = tcase_create("http answers");
	TCase *transport = tcase_create("transport faults");
	TCase *fault = tcase_create("upstream fault");

	tcase_add_checked_fixture(http, load_configs, free_configs);
	tcase_add_loop_test(http, any_2xx_answer_is_a_success, 0, (int)COUNT(success_statuses));
	tcase_add_loop_test(http, default_list_falls_over_on_overload_rate_limit_and_bad_credentials, 0,
			    (int)COUNT(default_fall_over_statuses));
	tcase_add_loop_test(http, default_list_passes_client_errors_through, 0,
			    (int)COUNT(default_pass_through_statuses));
	tcase_add_test(http, custom_list_falls_over_only_on_what_it_names);
	tcase_add_test(http, outcomes_have_names_for_logs);
	suite_add_tcase(s, http);

	tcase_add_checked_fixture(transport, load_configs, free_configs);
	tcase_add_test(transport, default_list_falls_over_on_every_transport_fault);
	tcase_add_test(transport, custom_list_gives_up_on_unnamed_connect_and_protocol_faults);
	tcase_add_test(transport, too_large_answer_follows_the_protocol_word);
	tcase_add_test(transport, transport_fault_ignores_the_status_that_came_with_it);
	tcase_add_test(transport, internal_failure_always_falls_over_and_never_blames_the_upstream);
	tcase_add_test(transport, empty_list_still_falls_over_on_internal_failure);
	suite_add_tcase(s, transport);

	tcase_add_checked_fixture(fault, load_configs, free_configs);
	tcase_add_test(fault, client_400_never_blames_the_upstream);
	tcase_add_test(fault, client_400_never_blames_the_upstream_even_when_4xx_is_named);
	suite_add_tcase(s, fault);
	return s;
}
