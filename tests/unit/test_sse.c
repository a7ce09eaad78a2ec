/* test_sse.c — the SSE parser (whole events out, however the bytes are split) and the writer. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "sse.h"
#include "suites.h"

struct seen {
	char names[8][64];
	char data[8][256];
	char raw[8][512];
	int n;
	int stop_at;   /* stop the feed when this many events were seen; 0: never */
};

static int collect(void *arg, const struct sse_event *ev)
{
	struct seen *s = arg;

	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof s->names[0], "%.*s", (int)ev->name_len, ev->name);
		snprintf(s->data[s->n], sizeof s->data[0], "%.*s", (int)ev->data_len, ev->data);
		snprintf(s->raw[s->n], sizeof s->raw[0], "%.*s", (int)ev->raw_len, ev->raw);
	}
	s->n++;
	return s->stop_at != 0 && s->n >= s->stop_at ? 7 : 0;
}

static const char stream[] = "data: {\"a\":1}\n\n"
			     ": a comment\n"
			     "event: message_start\r\ndata: {\"b\":2}\r\n\r\n"
			     "id: 3\ndata: line one\ndata: line two\n\n"
			     "data: [DONE]\n\n";

static void check_stream(const struct seen *s)
{
	ck_assert_int_eq(s->n, 4);
	ck_assert_str_eq(s->data[0], "{\"a\":1}");
	ck_assert_str_eq(s->names[0], "");
	ck_assert_str_eq(s->raw[0], "data: {\"a\":1}\n\n");
	ck_assert_str_eq(s->names[1], "message_start");
	ck_assert_str_eq(s->data[1], "{\"b\":2}");
	ck_assert_str_eq(s->data[2], "line one\nline two");
	ck_assert_str_eq(s->data[3], "[DONE]");
}

START_TEST(events_come_out_whole_from_one_feed)
{
	struct sse_parser p;
	struct seen s = { .n = 0 };

	sse_init(&p);
	ck_assert_int_eq(sse_feed(&p, stream, strlen(stream), collect, &s), SSE_OK);
	check_stream(&s);
	ck_assert(!sse_partial(&p));
	sse_free(&p);
}
END_TEST

START_TEST(events_come_out_whole_whatever_the_split)
{
	size_t len = strlen(stream), cut;

	/* Every way of cutting the stream in two, and byte by byte. */
	for (cut = 0; cut <= len; cut++) {
		struct sse_parser p;
		struct seen s = { .n = 0 };

		sse_init(&p);
		ck_assert_int_eq(sse_feed(&p, stream, cut, collect, &s), SSE_OK);
		ck_assert_int_eq(sse_feed(&p, stream + cut, len - cut, collect, &s), SSE_OK);
		check_stream(&s);
		sse_free(&p);
	}
	{
		struct sse_parser p;
		struct seen s = { .n = 0 };
		size_t i;

		sse_init(&p);
		for (i = 0; i < len; i++)
			ck_assert_int_eq(sse_feed(&p, stream + i, 1, collect, &s), SSE_OK);
		check_stream(&s);
		sse_free(&p);
	}
}
END_TEST

START_TEST(a_cut_mid_event_is_held_as_partial)
{
	struct sse_parser p;
	struct seen s = { .n = 0 };

	sse_init(&p);
	ck_assert_int_eq(sse_feed(&p, "data: {\"a\":1}\n\ndata: {\"b\"", 25, collect, &s), SSE_OK);
	ck_assert_int_eq(s.n, 1);
	ck_assert(sse_partial(&p));
	sse_reset(&p);
	ck_assert(!sse_partial(&p));
	sse_free(&p);
}
END_TEST

START_TEST(an_event_without_data_is_not_reported)
{
	struct sse_parser p;
	struct seen s = { .n = 0 };

	sse_init(&p);
	ck_assert_int_eq(sse_feed(&p, "event: ping\n\n: keep-alive\n\n", 27, collect, &s), SSE_OK);
	ck_assert_int_eq(s.n, 0);
	sse_free(&p);
}
END_TEST

START_TEST(a_handler_can_stop_the_feed)
{
	struct sse_parser p;
	struct seen s = { .n = 0, .stop_at = 2 };

	sse_init(&p);
	ck_assert_int_eq(sse_feed(&p, stream, strlen(stream), collect, &s), 7);
	ck_assert_int_eq(s.n, 2);
	sse_free(&p);
}
END_TEST

START_TEST(an_event_over_the_cap_is_refused)
{
	struct sse_parser p;
	struct seen s = { .n = 0 };
	static char big[SSE_MAX_EVENT + 16];

	memset(big, 'x', sizeof big);
	memcpy(big, "data: ", 6);
	sse_init(&p);
	ck_assert_int_eq(sse_feed(&p, big, sizeof big, collect, &s), SSE_TOO_LARGE);
	ck_assert_int_eq(s.n, 0);
	sse_free(&p);
}
END_TEST

START_TEST(data_without_a_space_and_empty_data_lines)
{
	struct sse_parser p;
	struct seen s = { .n = 0 };

	sse_init(&p);
	ck_assert_int_eq(sse_feed(&p, "data:x\n\ndata\ndata: y\n\n", 22, collect, &s), SSE_OK);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.data[0], "x");
	ck_assert_str_eq(s.data[1], "\ny");
	sse_free(&p);
}
END_TEST

START_TEST(the_writer_frames_what_the_parser_reads_back)
{
	struct seen s = { 0 };
	struct sse_parser p;
	struct buf out;

	buf_init(&out, 4096);
	ck_assert_int_eq(sse_write_data(&out, "{\"a\":1}", 7), 0);
	ck_assert_int_eq(sse_write_comment(&out, "keep-alive"), 0);
	ck_assert_int_eq(sse_write_data(&out, "{\n\"b\": 2\n}", 10), 0);
	ck_assert_int_eq(sse_write_done(&out), 0);
	ck_assert_str_eq(out.data, "data: {\"a\":1}\n\n"
				   ": keep-alive\n\n"
				   "data: {\ndata: \"b\": 2\ndata: }\n\n"
				   "data: [DONE]\n\n");
	sse_init(&p);
	ck_assert_int_eq(sse_feed(&p, out.data, out.len, collect, &s), SSE_OK);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.data[0], "{\"a\":1}");
	ck_assert_str_eq(s.data[1], "{\n\"b\": 2\n}");   /* a multi-line chunk joins back exactly */
	ck_assert_str_eq(s.data[2], "[DONE]");
	sse_free(&p);
	buf_free(&out);
}
END_TEST

START_TEST(a_frame_that_does_not_fit_leaves_nothing)
{
	struct buf out;

	buf_init(&out, 16);
	ck_assert_int_eq(sse_write_data(&out, "0123456789", 10), -1);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(sse_write_done(&out), 0);
	ck_assert_int_eq(sse_write_comment(&out, "a longer comment"), -1);
	ck_assert_str_eq(out.data, "data: [DONE]\n\n");
	buf_free(&out);
}
END_TEST

START_TEST(a_named_event_carries_its_event_line)
{
	struct seen s = { 0 };
	struct sse_parser p;
	struct buf out;

	buf_init(&out, 4096);
	ck_assert_int_eq(sse_write_event(&out, "response.created", "{\"a\":1}", 7), 0);
	ck_assert_int_eq(sse_write_event(&out, "two.lines", "x\ny", 3), 0);
	ck_assert_str_eq(out.data, "event: response.created\ndata: {\"a\":1}\n\n"
				   "event: two.lines\ndata: x\ndata: y\n\n");
	ck_assert_int_eq(sse_write_event(&out, "bad\nname", "{}", 2), -1);
	sse_init(&p);
	ck_assert_int_eq(sse_feed(&p, out.data, out.len, collect, &s), SSE_OK);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.names[0], "response.created");
	ck_assert_str_eq(s.data[0], "{\"a\":1}");
	ck_assert_str_eq(s.names[1], "two.lines");
	ck_assert_str_eq(s.data[1], "x\ny");
	sse_free(&p);
	buf_free(&out);
}
END_TEST

START_TEST(a_named_event_that_does_not_fit_leaves_nothing)
{
	struct buf out;

	buf_init(&out, 30);
	ck_assert_int_eq(sse_write_event(&out, "response.output_text.delta", "{}", 2), -1);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
}
END_TEST

Suite *sse_suite(void)
{
	Suite *s = suite_create("sse");
	TCase *tc = tcase_create("parser");

	tcase_add_test(tc, events_come_out_whole_from_one_feed);
	tcase_add_test(tc, events_come_out_whole_whatever_the_split);
	tcase_add_test(tc, a_cut_mid_event_is_held_as_partial);
	tcase_add_test(tc, an_event_without_data_is_not_reported);
	tcase_add_test(tc, a_handler_can_stop_the_feed);
	tcase_add_test(tc, an_event_over_the_cap_is_refused);
	tcase_add_test(tc, data_without_a_space_and_empty_data_lines);
	tcase_add_test(tc, the_writer_frames_what_the_parser_reads_back);
	tcase_add_test(tc, a_frame_that_does_not_fit_leaves_nothing);
	tcase_add_test(tc, a_named_event_carries_its_event_line);
	tcase_add_test(tc, a_named_event_that_does_not_fit_leaves_nothing);
	suite_add_tcase(s, tc);
	return s;
}
