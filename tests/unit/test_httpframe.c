/* test_httpframe.c — a request head that could be read two ways is refused; paths keep their encoded '/' and NUL. */
#include <check.h>
#include <string.h>

#include "httpframe.h"
#include "suites.h"

static const char *verdict(const char *const *lines, bool http11)
{
	struct httpframe f;
	size_t i;

	httpframe_init(&f);
	for (i = 0; lines[i] != NULL; i += 2)
		httpframe_header(&f, lines[i], strlen(lines[i]), lines[i + 1], strlen(lines[i + 1]));
	return httpframe_verdict(&f, http11);
}

START_TEST(a_plain_post_passes)
{
	static const char *const h[] = { "Host", "x", "Content-Length", "12", "content-length", "12", NULL };
	static const char *const c[] = { "Host", "x", "Transfer-Encoding", "Chunked", NULL };

	ck_assert_ptr_null(verdict(h, true));
	ck_assert_ptr_null(verdict(c, true));
}
END_TEST

START_TEST(two_different_content_lengths_are_refused)
{
	static const char *const h[] = { "Host", "x", "Content-Length", "12", "Content-Length", "5", NULL };
	static const char *const list[] = { "Host", "x", "Content-Length", "5, 5", NULL };

	ck_assert_ptr_nonnull(verdict(h, true));
	ck_assert_ptr_nonnull(verdict(list, true));
}
END_TEST

START_TEST(content_length_with_transfer_encoding_is_refused)
{
	static const char *const h[] = { "Host", "x", "Content-Length", "12", "Transfer-Encoding", "chunked", NULL };

	ck_assert_ptr_nonnull(verdict(h, true));
}
END_TEST

START_TEST(unknown_or_stacked_transfer_codings_are_refused)
{
	static const char *const gzip[] = { "Host", "x", "Transfer-Encoding", "gzip", NULL };
	static const char *const stacked[] = { "Host", "x", "Transfer-Encoding", "gzip, chunked", NULL };
	static const char *const twice[] = { "Host", "x", "Transfer-Encoding", "chunked",
					     "Transfer-Encoding", "chunked", NULL };

	ck_assert_ptr_nonnull(verdict(gzip, true));
	ck_assert_ptr_nonnull(verdict(stacked, true));
	ck_assert_ptr_nonnull(verdict(twice, true));
}
END_TEST

START_TEST(white_space_before_the_colon_and_control_bytes_in_a_value_are_refused)
{
	static const char *const space[] = { "Host", "x", "Content-Length ", "12", NULL };
	static const char *const tab[] = { "Host", "x", "X-A\t", "1", NULL };
	static const char *const cr[] = { "Host", "x", "X-A", "a\rb", NULL };
	static const char *const tab_in_value[] = { "Host", "x", "X-A", "a\tb", NULL };

	ck_assert_ptr_nonnull(verdict(space, true));
	ck_assert_ptr_nonnull(verdict(tab, true));
	ck_assert_ptr_nonnull(verdict(cr, true));
	ck_assert_ptr_null(verdict(tab_in_value, true));
}
END_TEST

START_TEST(http11_needs_one_host_and_http10_none)
{
	static const char *const none[] = { "Accept", "*/*", NULL };
	static const char *const two[] = { "Host", "a", "Host", "b", NULL };

	ck_assert_ptr_nonnull(verdict(none, true));
	ck_assert_ptr_null(verdict(none, false));
	ck_assert_ptr_nonnull(verdict(two, true));
}
END_TEST

START_TEST(unescape_keeps_slash_nul_percent_and_controls_encoded)
{
	char a[] = "/health%2flive", b[] = "/admin/circuits/oa%00x", c[] = "/a%20b%7e%25%0d%0a%zz%4";
	char d[] = "/caf%C3%A9";

	ck_assert_uint_eq(httpframe_unescape(a), strlen("/health%2flive"));
	ck_assert_str_eq(a, "/health%2flive");
	httpframe_unescape(b);
	ck_assert_str_eq(b, "/admin/circuits/oa%00x");
	httpframe_unescape(c);
	ck_assert_str_eq(c, "/a b~%25%0d%0a%zz%4");
	httpframe_unescape(d);
	ck_assert_str_eq(d, "/caf\xc3\xa9");
}
END_TEST

START_TEST(libmicrohttpd_refusals_are_read_from_its_log_line)
{
	unsigned status = 0;
	char why[64];

	ck_assert(httpframe_refusal("Error processing request (HTTP response code is 431 ('<html><head><title>"
				    "Request too big</title></head><body>Your HTTP header was too big.</body></html>')). "
				    "Closing connection.", &status, why, sizeof why));
	ck_assert_uint_eq(status, 431);
	ck_assert_str_eq(why, "Request too big");
	ck_assert(httpframe_refusal("Error processing request (HTTP response code is 400 ('')). Closing connection.",
				    &status, why, sizeof why));
	ck_assert_uint_eq(status, 400);
	ck_assert_str_eq(why, "");
	/* Cut to the room given. */
	ck_assert(httpframe_refusal("Error processing request (HTTP response code is 414 ('<title>Request too big</title>",
				    &status, why, 8));
	ck_assert_str_eq(why, "Request");
	/* Anything else is not a refusal. */
	ck_assert(!httpframe_refusal("Failed to send data in request for `/v1/models'.", &status, why, sizeof why));
	ck_assert(!httpframe_refusal("Error processing request (HTTP response code is 4000 ('x'))", &status, why, sizeof why));
	ck_assert(!httpframe_refusal("Error processing request (HTTP response code is 200 ('x'))", &status, why, sizeof why));
	ck_assert(!httpframe_refusal("Error processing request (HTTP response code is 43", &status, why, sizeof why));
	ck_assert(!httpframe_refusal("", &status, why, sizeof why));
	/* A line that is not a refusal leaves no reason behind, whatever title it holds. */
	ck_assert(!httpframe_refusal("Error processing request (HTTP response code is < 413'(<title>Req</title>",
				     &status, why, sizeof why));
	ck_assert_str_eq(why, "");
}
END_TEST

Suite *httpframe_suite(void)
{
	Suite *s = suite_create("httpframe");
	TCase *tc = tcase_create("httpframe");

	tcase_add_test(tc, a_plain_post_passes);
	tcase_add_test(tc, two_different_content_lengths_are_refused);
	tcase_add_test(tc, content_length_with_transfer_encoding_is_refused);
	tcase_add_test(tc, unknown_or_stacked_transfer_codings_are_refused);
	tcase_add_test(tc, white_space_before_the_colon_and_control_bytes_in_a_value_are_refused);
	tcase_add_test(tc, http11_needs_one_host_and_http10_none);
	tcase_add_test(tc, unescape_keeps_slash_nul_percent_and_controls_encoded);
	tcase_add_test(tc, libmicrohttpd_refusals_are_read_from_its_log_line);
	suite_add_tcase(s, tc);
	return s;
}
