/* test_engine.c — the engine: reading an upstream's Retry-After, and its spare handles (calls to a refused local port). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "engine.h"
#include "loop.h"
#include "suites.h"
#include "timers.h"

/* Wed, 21 Oct 2015 07:28:00 GMT, RFC 9110's example date. */
#define EXAMPLE_DATE_MS UINT64_C(1445412480000)

static int64_t parse_ok(const char *value, uint64_t now_ms)
{
	int64_t ms = -12345;

	ck_assert_msg(engine_parse_retry_after(value, now_ms, &ms) == 0, "refused \"%s\"", value);
	return ms;
}

static void assert_refused(const char *value)
{
	int64_t ms = -12345;

	ck_assert_msg(engine_parse_retry_after(value, EXAMPLE_DATE_MS, &ms) == -1, "accepted \"%s\" as %lld", value,
		      (long long)ms);
}

START_TEST(retry_after_seconds_become_milliseconds)
{
	ck_assert_int_eq(parse_ok("120", EXAMPLE_DATE_MS), 120000);
	ck_assert_int_eq(parse_ok("1", 0), 1000);
	ck_assert_int_eq(parse_ok("0", EXAMPLE_DATE_MS), 0);
	ck_assert_int_eq(parse_ok("007", EXAMPLE_DATE_MS), 7000);
}
END_TEST

START_TEST(retry_after_seconds_ignore_surrounding_white_space)
{
	ck_assert_int_eq(parse_ok(" 30", 0), 30000);
	ck_assert_int_eq(parse_ok("\t30", 0), 30000);
	ck_assert_int_eq(parse_ok("30 ", 0), 30000);
	ck_assert_int_eq(parse_ok("30\r\n", 0), 30000);
}
END_TEST

START_TEST(retry_after_seconds_do_not_depend_on_now)
{
	ck_assert_int_eq(parse_ok("45", 0), 45000);
	ck_assert_int_eq(parse_ok("45", UINT64_C(4102444800000)), 45000);
}
END_TEST

START_TEST(retry_after_of_a_year_is_accepted_and_more_is_refused)
{
	ck_assert_int_eq(parse_ok("31536000", 0), INT64_C(31536000000));
	assert_refused("31536001");
	assert_refused("99999999999999999999999");
}
END_TEST

START_TEST(http_date_in_the_future_gives_the_wait_until_then)
{
	ck_assert_int_eq(parse_ok("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE_DATE_MS - 30000), 30000);
	ck_assert_int_eq(parse_ok("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE_DATE_MS - 1500), 1500);
	ck_assert_int_eq(parse_ok("Wed, 21 Oct 2015 08:28:00 GMT", EXAMPLE_DATE_MS), 3600000);
	ck_assert_int_eq(parse_ok("Thu, 22 Oct 2015 07:28:00 GMT", EXAMPLE_DATE_MS), 86400000);
	ck_assert_int_eq(parse_ok("Tue, 01 Jan 2030 00:00:00 GMT", UINT64_C(1893456000000) - 2000), 2000);
}
END_TEST

START_TEST(http_date_now_or_in_the_past_gives_zero)
{
	ck_assert_int_eq(parse_ok("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE_DATE_MS), 0);
	ck_assert_int_eq(parse_ok("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE_DATE_MS + 1), 0);
	ck_assert_int_eq(parse_ok("Wed, 21 Oct 2015 07:27:59 GMT", EXAMPLE_DATE_MS), 0);
	ck_assert_int_eq(parse_ok("Thu, 01 Jan 1970 00:00:00 GMT", EXAMPLE_DATE_MS), 0);
}
END_TEST

START_TEST(http_date_with_leading_space_is_read)
{
	ck_assert_int_eq(parse_ok("  Wed, 21 Oct 2015 07:28:10 GMT", EXAMPLE_DATE_MS), 10000);
}
END_TEST

START_TEST(garbage_retry_after_is_refused)
{
	static const char *const garbage[] = {
		"", " ", "soon", "-5", "+5", "1.5", "12abc", "12 34", "0x10", "1e3", "five",
		"21 Oct 2015 07:28:00 GMT",       /* no day name */
		"Wed, 21 Oct 2015",               /* no time */
		"Wed, 32 Oct 2015 07:28:00 GMT",  /* no 32nd */
		"Wed, 21 Foo 2015 07:28:00 GMT",  /* no such month */
		"Wed, 21 Oct 2015 25:28:00 GMT",  /* no 25th hour */
		"2015-10-21T07:28:00Z",           /* ISO 8601 is not an HTTP date */
	};
	size_t i;

	for (i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
		assert_refused(garbage[i]);
}
END_TEST

START_TEST(refused_value_leaves_the_result_untouched)
{
	int64_t ms = 777;

	ck_assert_int_eq(engine_parse_retry_after("nope", EXAMPLE_DATE_MS, &ms), -1);
	ck_assert_int_eq(ms, 777);
	ck_assert_int_eq(engine_parse_retry_after("12x", EXAMPLE_DATE_MS, &ms), -1);
	ck_assert_int_eq(ms, 777);
}
END_TEST

/* --- spare easy handles, with curl's real engine against a refused port --- */

struct ended {
	int n;
	enum engine_error last;
};

static void ended_done(void *arg, struct engine_response *r)
{
	struct ended *e = arg;

	e->n++;
	e->last = r->error;
}

static const struct engine_handlers ended_handlers = { .on_done = ended_done };

/* A port on 127.0.0.1 that refuses connections: bound, never listening. */
static int refusing_socket(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Runs loop and timers until want calls have ended (bounded: connect_timeout ends each). */
static void run_until(struct loop *l, struct timers *ts, struct ended *e, int want)
{
	int turns;

	for (turns = 0; e->n < want && turns < 1000; turns++) {
		timers_run_due(ts, clock_now_ms());
		loop_run_once(l, 10);
	}
	ck_assert_int_eq(e->n, want);
}

START_TEST(trim_frees_the_spare_handles_past_keep_and_the_engine_goes_on)
{
	struct loop l;
	struct timers ts;
	struct engine *e;
	struct ended ended = { 0, ENGINE_OK };
	struct engine_request req;
	char err[128], url[64];
	int port, fd, i;

	ck_assert_int_eq(loop_init(&l), 0);
	timers_init(&ts);
	e = engine_create(&l, &ts, 16, err, sizeof err);
	ck_assert_ptr_nonnull(e);
	fd = refusing_socket(&port);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/models", port);
	memset(&req, 0, sizeof req);
	req.url = url;
	req.connect_timeout_ms = req.first_byte_timeout_ms = req.total_timeout_ms = 2000;
	req.max_response = 1024;
	/* Three at once, one of them with a stream's small receive buffer. */
	for (i = 0; i < 3; i++) {
		req.receive_buffer = i == 1 ? 4096 : 0;
		ck_assert_ptr_nonnull(engine_submit(e, &req, &ended_handlers, &ended));
	}
	run_until(&l, &ts, &ended, 3);
	ck_assert_int_eq(ended.last, ENGINE_CONNECT);
	ck_assert_uint_eq(engine_trim(e, 1), 2);
	ck_assert_uint_eq(engine_trim(e, 1), 0);
	/* The one kept serves the next call, which still ends as it should. */
	req.receive_buffer = 4096;
	ck_assert_ptr_nonnull(engine_submit(e, &req, &ended_handlers, &ended));
	run_until(&l, &ts, &ended, 4);
	ck_assert_int_eq(ended.last, ENGINE_CONNECT);
	ck_assert_uint_eq(engine_trim(e, 0), 1);
	engine_free(e);
	timers_free(&ts);
	loop_free(&l);
	close(fd);
}
END_TEST

Suite *engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *retry = tcase_create("retry-after");
	TCase *spares = tcase_create("spares");

	tcase_add_test(retry, retry_after_seconds_become_milliseconds);
	tcase_add_test(retry, retry_after_seconds_ignore_surrounding_white_space);
	tcase_add_test(retry, retry_after_seconds_do_not_depend_on_now);
	tcase_add_test(retry, retry_after_of_a_year_is_accepted_and_more_is_refused);
	tcase_add_test(retry, http_date_in_the_future_gives_the_wait_until_then);
	tcase_add_test(retry, http_date_now_or_in_the_past_gives_zero);
	tcase_add_test(retry, http_date_with_leading_space_is_read);
	tcase_add_test(retry, garbage_retry_after_is_refused);
	tcase_add_test(retry, refused_value_leaves_the_result_untouched);
	suite_add_tcase(s, retry);
	tcase_set_timeout(spares, 10);
	tcase_add_test(spares, trim_frees_the_spare_handles_past_keep_and_the_engine_goes_on);
	suite_add_tcase(s, spares);
	return s;
}
