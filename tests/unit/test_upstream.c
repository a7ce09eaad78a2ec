/* test_upstream.c — the headers one call to an upstream carries: its own, plus the client's meant for its provider. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_load.h"
#include "suites.h"
#include "upstream.h"

static struct config *cfg;
static struct upstream ups[3];

/* openai (default list), claude (anthropic's default), custom (its own list). */
static void setup(void)
{
	static const char yaml[] =
		"upstreams:\n"
		"  openai: { base_url: http://a }\n"
		"  claude: { base_url: http://c, provider: anthropic }\n"
		"  custom: { base_url: http://b, forward_headers: [OpenAI-Beta, X-Custom] }\n"
		"models:\n  \"*\": { targets: [ { upstream: openai }, { upstream: claude }, { upstream: custom } ] }\n";
	char err[512];

	ck_assert_msg(config_load_string("test.yaml", yaml, strlen(yaml), &cfg, err, sizeof err) == 0, "%s", err);
	for (size_t i = 0; i < 3; i++)
		ck_assert_msg(upstream_init(&ups[i], &cfg->upstreams[i], err, sizeof err) == 0, "%s", err);
}

static void teardown(void)
{
	for (size_t i = 0; i < 3; i++)
		upstream_free(&ups[i]);
	config_free(cfg);
}

/* The client's headers: name, value pairs, NULL-terminated. */
static const char *const *client;

static const char *lookup(void *arg, const char *name)
{
	(void)arg;
	for (size_t i = 0; client[i] != NULL; i += 2)
		if (strcasecmp(client[i], name) == 0)
			return client[i + 1];
	return NULL;
}

static size_t count(const struct curl_slist *l)
{
	size_t n = 0;

	for (; l != NULL; l = l->next)
		n++;
	return n;
}

static bool has(const struct curl_slist *l, const char *line)
{
	for (; l != NULL; l = l->next)
		if (strcmp(l->data, line) == 0)
			return true;
	return false;
}

START_TEST(a_client_without_provider_headers_costs_no_list)
{
	static const char *const none[] = { "X-Custom", "yes", "Authorization", "Bearer client-key", NULL };
	struct curl_slist *l = (struct curl_slist *)1;

	client = none;
	ck_assert_int_eq(upstream_call_headers(&ups[0], lookup, NULL, &l), 0);
	ck_assert_ptr_null(l);
}
END_TEST

START_TEST(openai_upstreams_get_organization_project_beta_and_idempotency_key)
{
	static const char *const sent[] = { "openai-organization", "org-1", "OpenAI-Project", "proj-1",
					    "OpenAI-Beta", "assistants=v2", "Idempotency-Key", "idem-1",
					    "anthropic-beta", "x", "X-Custom", "yes", NULL };
	struct curl_slist *l;

	client = sent;
	ck_assert_int_eq(upstream_call_headers(&ups[0], lookup, NULL, &l), 0);
	ck_assert_uint_eq(count(l), count(ups[0].headers) + 4);
	/* The upstream's own lines come first, untouched. */
	ck_assert_str_eq(l->data, ups[0].headers->data);
	ck_assert(has(l, "OpenAI-Organization: org-1"));
	ck_assert(has(l, "OpenAI-Project: proj-1"));
	ck_assert(has(l, "OpenAI-Beta: assistants=v2"));
	ck_assert(has(l, "Idempotency-Key: idem-1"));
	upstream_call_headers_free(l);
}
END_TEST

START_TEST(anthropic_upstreams_get_anthropic_beta_only)
{
	static const char *const sent[] = { "anthropic-beta", "prompt-caching-2024-07-31", "OpenAI-Organization", "org-1",
					    NULL };
	struct curl_slist *l;

	client = sent;
	ck_assert_int_eq(upstream_call_headers(&ups[1], lookup, NULL, &l), 0);
	ck_assert_uint_eq(count(l), count(ups[1].headers) + 1);
	ck_assert(has(l, "anthropic-beta: prompt-caching-2024-07-31"));
	upstream_call_headers_free(l);
}
END_TEST

START_TEST(forward_headers_replace_the_providers_list)
{
	static const char *const sent[] = { "OpenAI-Organization", "org-1", "OpenAI-Beta", "b", "x-custom", "yes", NULL };
	struct curl_slist *l;

	client = sent;
	ck_assert_int_eq(upstream_call_headers(&ups[2], lookup, NULL, &l), 0);
	ck_assert_uint_eq(count(l), count(ups[2].headers) + 2);
	ck_assert(has(l, "OpenAI-Beta: b"));
	ck_assert(has(l, "X-Custom: yes"));
	upstream_call_headers_free(l);
}
END_TEST

START_TEST(a_value_that_could_split_a_header_is_not_forwarded)
{
	static const char *const sent[] = { "OpenAI-Beta", "v2\r\nAuthorization: Bearer stolen", "Idempotency-Key", "",
					    NULL };
	struct curl_slist *l = NULL;

	client = sent;
	ck_assert_int_eq(upstream_call_headers(&ups[0], lookup, NULL, &l), 0);
	ck_assert_ptr_null(l);
}
END_TEST

START_TEST(a_body_curl_would_not_ask_100_continue_for_goes_without_expect)
{
	const struct curl_slist *small = upstream_headers_for_body(ups[0].headers, 56);
	const struct curl_slist *limit = upstream_headers_for_body(ups[0].headers, UPSTREAM_EXPECT_THRESHOLD);

	ck_assert_uint_eq(count(small), count(ups[0].headers) - 1);
	ck_assert(!has(small, UPSTREAM_NO_EXPECT));
	ck_assert(has(small, "Content-Type: application/json"));
	ck_assert_ptr_eq(limit, small);
}
END_TEST

START_TEST(a_body_curl_would_ask_100_continue_for_keeps_expect)
{
	const struct curl_slist *large = upstream_headers_for_body(ups[0].headers, UPSTREAM_EXPECT_THRESHOLD + 1);

	ck_assert_ptr_eq(large, ups[0].headers);
	ck_assert(has(large, UPSTREAM_NO_EXPECT));
}
END_TEST

START_TEST(a_call_list_with_client_headers_drops_expect_the_same_way)
{
	static const char *const sent[] = { "OpenAI-Beta", "assistants=v2", NULL };
	struct curl_slist *l;
	const struct curl_slist *small;

	client = sent;
	ck_assert_int_eq(upstream_call_headers(&ups[0], lookup, NULL, &l), 0);
	small = upstream_headers_for_body(l, 100);
	ck_assert(!has(small, UPSTREAM_NO_EXPECT));
	ck_assert(has(small, "OpenAI-Beta: assistants=v2"));
	ck_assert_uint_eq(count(small), count(l) - 1);
	ck_assert(has(upstream_headers_for_body(l, UPSTREAM_EXPECT_THRESHOLD + 1), UPSTREAM_NO_EXPECT));
	upstream_call_headers_free(l);
}
END_TEST

START_TEST(a_list_without_expect_is_handed_over_whole)
{
	ck_assert_ptr_eq(upstream_headers_for_body(ups[0].probe_headers, 10), ups[0].probe_headers);
	ck_assert_ptr_null(upstream_headers_for_body(NULL, 10));
}
END_TEST

/*
 * upstream_redacts says whether upstream_redact_bytes would change a text: a
 * stream's chunk is copied to be masked only when it does, so the two must
 * agree on every text, the key whole, cut at the end, or not there.
 */
START_TEST(redacts_says_when_redaction_would_change_a_text)
{
	static const char yaml[] =
		"upstreams:\n"
		"  keyed: { base_url: http://a, api_key_env: DETOUR_TEST_REDACT_KEY }\n"
		"  short: { base_url: http://b, api_key_env: DETOUR_TEST_SHORT_KEY }\n"
		"  bare: { base_url: http://c }\n"
		"models:\n  \"*\": { targets: [ { upstream: keyed } ] }\n";
	static const char *const texts[] = {
		"{\"content\":\"nothing to see\"}",
		"{\"content\":\"the key sk-redact-0123456789 leaked\"}",
		"sk-redact-0123456789",
		"two: sk-redact-0123456789sk-redact-0123456789",
		"cut short: sk-redact-01",
		"cut shorter: sk-r",
		"too short to tell: sk-",
		"sk-redact-0123456789 and then cut: sk-red",
		"sk-redact-012345678",
		"",
	};
	struct config *c;
	struct upstream u[3];
	char err[512], copy[128];
	size_t i, k;

	setenv("DETOUR_TEST_REDACT_KEY", "sk-redact-0123456789", 1);
	setenv("DETOUR_TEST_SHORT_KEY", "sk-", 1);
	ck_assert_msg(config_load_string("test.yaml", yaml, strlen(yaml), &c, err, sizeof err) == 0, "%s", err);
	for (k = 0; k < 3; k++)
		ck_assert_msg(upstream_init(&u[k], &c->upstreams[k], err, sizeof err) == 0, "%s", err);
	for (k = 0; k < 3; k++) {
		for (i = 0; i < sizeof texts / sizeof *texts; i++) {
			size_t len = strlen(texts[i]);

			memcpy(copy, texts[i], len + 1);
			upstream_redact_bytes(&u[k], copy, len);
			ck_assert_msg(upstream_redacts(&u[k], texts[i], len) == (memcmp(copy, texts[i], len) != 0),
				      "upstream %zu, text \"%s\"", k, texts[i]);
		}
	}
	/* The cases the list is there for. */
	ck_assert(!upstream_redacts(&u[0], texts[0], strlen(texts[0])));
	ck_assert(upstream_redacts(&u[0], texts[1], strlen(texts[1])));
	ck_assert(upstream_redacts(&u[0], texts[4], strlen(texts[4])));
	ck_assert(!upstream_redacts(&u[0], texts[6], strlen(texts[6])));
	ck_assert(!upstream_redacts(&u[1], texts[2], strlen(texts[2])));  /* a key under 4 bytes is never masked */
	ck_assert(!upstream_redacts(&u[2], texts[2], strlen(texts[2])));
	for (k = 0; k < 3; k++)
		upstream_free(&u[k]);
	config_free(c);
}
END_TEST

Suite *upstream_suite(void)
{
	Suite *s = suite_create("upstream");
	TCase *tc = tcase_create("call_headers");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_client_without_provider_headers_costs_no_list);
	tcase_add_test(tc, openai_upstreams_get_organization_project_beta_and_idempotency_key);
	tcase_add_test(tc, anthropic_upstreams_get_anthropic_beta_only);
	tcase_add_test(tc, forward_headers_replace_the_providers_list);
	tcase_add_test(tc, a_value_that_could_split_a_header_is_not_forwarded);
	tcase_add_test(tc, a_body_curl_would_not_ask_100_continue_for_goes_without_expect);
	tcase_add_test(tc, a_body_curl_would_ask_100_continue_for_keeps_expect);
	tcase_add_test(tc, a_call_list_with_client_headers_drops_expect_the_same_way);
	tcase_add_test(tc, a_list_without_expect_is_handed_over_whole);
	suite_add_tcase(s, tc);
	tc = tcase_create("redact");
	tcase_add_test(tc, redacts_says_when_redaction_would_change_a_text);
	suite_add_tcase(s, tc);
	return s;
}
