/* test_proxy.c — the attempt loop against a fake engine: each upstream's answer is played by the test, no socket is opened. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "clock.h"
#include "config.h"
#include "config_load.h"
#include "log.h"
#include "context.h"
#include "engine.h"
#include "exchange.h"
#include "proxy.h"
#include "request.h"
#include "runtime.h"
#include "fake_engine.h"
#include "suites.h"
#include "upstream.h"

static struct config *cfg;
static struct runtime rt;
static struct context ctx;

static void setup(const char *yaml)
{
	char err[512];

	log_set_level(LOG_LEVEL_ERROR); /* the loop's info lines are not the test's output */
	ck_assert_msg(config_load_string("test.yaml", yaml, strlen(yaml), &cfg, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(runtime_init(&rt, cfg, err, sizeof err) == 0, "%s", err);
	memset(&ctx, 0, sizeof ctx);
	ctx.rt = &rt;
	ctx.engine_ops = &fake_engine;
	ctx.metrics = runtime_worker_metrics(&rt, 0);
	timers_init(&ctx.timers);
	rng_seed(&ctx.rng);
	fake_engine_reset();
}

static void teardown(void)
{
	exchange_free_spares(&ctx);
	timers_free(&ctx.timers);
	runtime_free(&rt);
	config_free(cfg);
}

/* A chat request for model, parsed and handed to the attempt loop. */
static struct exchange *start_chat(const char *model)
{
	struct exchange *x = exchange_new(&ctx, NULL);
	struct request_error e;

	ck_assert_ptr_nonnull(x);
	snprintf(x->request_id, sizeof x->request_id, "unit-test");
	buf_printf(&x->body, "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", model);
	ck_assert_int_eq(request_parse(&x->request, REQUEST_CHAT, x->body.data, x->body.len, &e), 0);
	x->parsed = true;
	proxy_start(x);
	return x;
}

/* Plays the end of call i: an HTTP answer (error ENGINE_OK) or a transport failure. */
static void finish_call(size_t i, enum engine_error error, unsigned status, const char *body)
{
	struct engine_response r;

	ck_assert_uint_lt(i, fake_ncalls);
	ck_assert(!fake_calls[i].cancelled);
	memset(&r, 0, sizeof r);
	r.error = error;
	r.status = status;
	r.retry_after_ms = -1;
	snprintf(r.content_type, sizeof r.content_type, "application/json");
	if (error != ENGINE_OK)
		snprintf(r.error_text, sizeof r.error_text, "connection refused");
	buf_init(&r.body, 1 << 20);
	if (body != NULL)
		buf_append_str(&r.body, body);
	fake_calls[i].done = true;
	fake_calls[i].handlers->on_done(fake_calls[i].arg, &r);
	buf_free(&r.body);
}

static const char *header(struct exchange *x, const char *name)
{
	ck_assert_ptr_nonnull(x->response);
	return MHD_get_response_header(x->response, name);
}

#define TWO_UPSTREAMS                                                                                 \
	"upstreams:\n"                                                                                \
	"  primary: { base_url: \"http://primary.test/v1\", retries: { attempts: 0 } }\n"              \
	"  backup: { base_url: \"http://backup.test/v1\", retries: { attempts: 0 } }\n"                \
	"models:\n"                                                                                   \
	"  gpt-4o: { targets: [ { upstream: primary }, { upstream: backup } ] }\n"

#define ANSWER "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":[]}"

START_TEST(primary_503_backup_answers)
{
	struct exchange *x;

	setup(TWO_UPSTREAMS);
	x = start_chat("gpt-4o");
	ck_assert_uint_eq(fake_ncalls, 1);
	ck_assert_str_eq(fake_calls[0].url, "http://primary.test/v1/chat/completions");
	ck_assert_ptr_null(x->response);          /* waiting for the upstream */
	finish_call(0, ENGINE_OK, 503, "{\"error\":{\"message\":\"overloaded\"}}");
	ck_assert_uint_eq(fake_ncalls, 2);
	ck_assert_str_eq(fake_calls[1].url, "http://backup.test/v1/chat/completions");
	finish_call(1, ENGINE_OK, 200, ANSWER);
	ck_assert_uint_eq(x->status, 200);
	ck_assert_str_eq(header(x, "x-detour-upstream"), "backup");
	ck_assert_str_eq(header(x, "x-detour-attempts"), "2");
	ck_assert_int_eq(exchange_end_reason(x), END_ANSWERED);
	ck_assert_uint_eq(x->attempts.tries, 2);
	exchange_release(x);
	ck_assert_uint_eq(atomic_load(&rt.requests_active), 0);
	teardown();
}
END_TEST

START_TEST(a_client_error_is_passed_through_without_falling_over)
{
	struct exchange *x;

	setup(TWO_UPSTREAMS);
	x = start_chat("gpt-4o");
	finish_call(0, ENGINE_OK, 400, "{\"error\":{\"message\":\"bad request\"}}");
	ck_assert_uint_eq(fake_ncalls, 1);        /* the backup is never called */
	ck_assert_uint_eq(x->status, 400);
	ck_assert_str_eq(header(x, "x-detour-upstream"), "primary");
	ck_assert_int_eq(exchange_end_reason(x), END_PASSED_THROUGH);
	exchange_release(x);
	teardown();
}
END_TEST

START_TEST(every_target_failing_gives_502_with_the_attempts)
{
	struct exchange *x;

	setup(TWO_UPSTREAMS);
	x = start_chat("gpt-4o");
	finish_call(0, ENGINE_CONNECT, 0, NULL);
	finish_call(1, ENGINE_CONNECT, 0, NULL);
	ck_assert_uint_eq(fake_ncalls, 2);
	ck_assert_uint_eq(x->status, 502);
	ck_assert_str_eq(header(x, "x-detour-attempts"), "2");
	ck_assert_int_eq(exchange_end_reason(x), END_ALL_FAILED);
	exchange_release(x);
	teardown();
}
END_TEST

START_TEST(a_503_is_retried_on_the_same_target_after_the_backoff)
{
	struct exchange *x;

	setup("upstreams:\n"
	      "  primary: { base_url: \"http://primary.test/v1\", retries: { attempts: 1, base_delay: 1ms, max_delay: 1ms } }\n"
	      "models:\n"
	      "  gpt-4o: { targets: [ { upstream: primary } ] }\n");
	x = start_chat("gpt-4o");
	finish_call(0, ENGINE_OK, 503, "{}");
	ck_assert_uint_eq(fake_ncalls, 1);        /* not at once: a timer waits for the backoff */
	ck_assert(timer_armed(&x->attempt.wait_timer));
	timers_run_due(&ctx.timers, UINT64_MAX - 1);
	ck_assert_uint_eq(fake_ncalls, 2);
	ck_assert_str_eq(fake_calls[1].url, "http://primary.test/v1/chat/completions");
	finish_call(1, ENGINE_OK, 200, ANSWER);
	ck_assert_uint_eq(x->status, 200);
	ck_assert_int_eq(exchange_end_reason(x), END_ANSWERED);
	exchange_release(x);
	ck_assert_uint_eq(atomic_load(&rt.retries_active), 0);
	teardown();
}
END_TEST

START_TEST(releasing_an_exchange_cancels_its_call_without_blaming_the_upstream)
{
	struct exchange *x;
	struct upstream_view v;

	setup(TWO_UPSTREAMS);
	x = start_chat("gpt-4o");
	ck_assert_uint_eq(fake_ncalls, 1);
	exchange_release(x);                      /* the client went away mid-call */
	ck_assert(fake_calls[0].cancelled);
	ck_assert_uint_eq(atomic_load(&rt.requests_active), 0);
	upstream_view(&rt.upstreams[0], 0, &v);
	ck_assert_uint_eq(v.failures_in_window, 0); /* not the upstream's fault */
	teardown();
}
END_TEST

/* Opens u's breaker (failures: 1) with one fault. */
static void open_breaker(struct upstream *u)
{
	upstream_record(u, clock_now_ms(), UPSTREAM_FAULT, false, false, 503, -1, "overloaded");
}

#define TWO_FRAGILE_UPSTREAMS                                                                                  \
	"upstreams:\n"                                                                                         \
	"  primary: { base_url: \"http://primary.test/v1\", retries: { attempts: 0 },\n"                       \
	"    breaker: { failures: 1, window: 60s, cooldown: 60s } }\n"                                         \
	"  backup: { base_url: \"http://backup.test/v1\", retries: { attempts: 0 },\n"                         \
	"    breaker: { failures: 1, window: 60s, cooldown: 60s } }\n"                                         \
	"models:\n"                                                                                            \
	"  gpt-4o: { targets: [ { upstream: primary }, { upstream: backup } ] }\n"

START_TEST(every_target_refused_waits_for_a_verdict_before_a_503)
{
	struct exchange *x;

	setup(TWO_FRAGILE_UPSTREAMS);
	open_breaker(&rt.upstreams[0]);
	open_breaker(&rt.upstreams[1]);
	x = start_chat("gpt-4o");
	/* Within a second of their faults no early probe goes: the request waits, unanswered. */
	ck_assert_uint_eq(fake_ncalls, 0);
	ck_assert_ptr_null(x->response);
	ck_assert(timer_armed(&x->attempt.wait_timer));
	/* A health check finds backup healthy meanwhile: its breaker half-opens, the request is its probe. */
	upstream_health(&rt.upstreams[1], clock_now_ms(), true, 200, NULL);
	timers_run_due(&ctx.timers, UINT64_MAX - 1);
	ck_assert_uint_eq(fake_ncalls, 1);
	ck_assert_str_eq(fake_calls[0].url, "http://backup.test/v1/chat/completions");
	finish_call(0, ENGINE_OK, 200, ANSWER);
	ck_assert_uint_eq(x->status, 200);
	ck_assert_int_eq(exchange_end_reason(x), END_ANSWERED);
	exchange_release(x);
	ck_assert_uint_eq(atomic_load(&rt.requests_active), 0);
	teardown();
}
END_TEST

START_TEST(a_refused_request_gets_its_503_once_the_wait_is_over)
{
	struct exchange *x;
	unsigned looks = 0;

	setup(TWO_FRAGILE_UPSTREAMS);
	open_breaker(&rt.upstreams[0]);
	open_breaker(&rt.upstreams[1]);
	x = start_chat("gpt-4o");
	/* Each look again finds both still open; the wait is bounded. */
	while (timer_armed(&x->attempt.wait_timer)) {
		ck_assert_uint_lt(++looks, 1000000);
		timers_run_due(&ctx.timers, UINT64_MAX - 1);
	}
	ck_assert_uint_eq(fake_ncalls, 0);
	ck_assert_uint_eq(x->status, 503);
	ck_assert_ptr_nonnull(header(x, "Retry-After"));
	exchange_release(x);
	teardown();
}
END_TEST

START_TEST(a_client_gone_while_waiting_stops_the_wait)
{
	struct exchange *x;

	setup(TWO_FRAGILE_UPSTREAMS);
	open_breaker(&rt.upstreams[0]);
	open_breaker(&rt.upstreams[1]);
	x = start_chat("gpt-4o");
	ck_assert(timer_armed(&x->attempt.wait_timer));
	exchange_release(x);
	ck_assert(!timer_armed(&x->attempt.wait_timer));
	ck_assert_uint_eq(atomic_load(&rt.requests_active), 0);
	teardown();
}
END_TEST

START_TEST(an_unknown_model_is_refused_without_a_call)
{
	struct exchange *x;

	setup(TWO_UPSTREAMS);
	x = start_chat("no-such-model");
	ck_assert_uint_eq(fake_ncalls, 0);
	ck_assert_uint_eq(x->status, 404);
	ck_assert_int_eq(exchange_end_reason(x), END_REFUSED);
	exchange_release(x);
	teardown();
}
END_TEST

Suite *proxy_suite(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("attempt_loop");

	tcase_add_test(tc, primary_503_backup_answers);
	tcase_add_test(tc, a_client_error_is_passed_through_without_falling_over);
	tcase_add_test(tc, every_target_failing_gives_502_with_the_attempts);
	tcase_add_test(tc, a_503_is_retried_on_the_same_target_after_the_backoff);
	tcase_add_test(tc, releasing_an_exchange_cancels_its_call_without_blaming_the_upstream);
	tcase_add_test(tc, an_unknown_model_is_refused_without_a_call);
	tcase_add_test(tc, every_target_refused_waits_for_a_verdict_before_a_503);
	tcase_add_test(tc, a_refused_request_gets_its_503_once_the_wait_is_over);
	tcase_add_test(tc, a_client_gone_while_waiting_stops_the_wait);
	suite_add_tcase(s, tc);
	return s;
}
