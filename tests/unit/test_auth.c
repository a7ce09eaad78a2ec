/* test_auth.c — who may call detour: bearer parsing, client keys on and off, the admin token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "config_load.h"
#include "suites.h"

#define OK_UPSTREAMS "upstreams:\n  openai:\n    base_url: http://a\n"
#define OK_MODELS "models:\n  \"*\":\n    targets: [ { upstream: openai } ]\n"

static char keys_path[256];

static void write_keys_file(void)
{
	const char *base = getenv("TMPDIR");
	FILE *f;
	int fd;

	snprintf(keys_path, sizeof keys_path, "%s/detour-auth-XXXXXX", base != NULL && *base != '\0' ? base : "/tmp");
	fd = mkstemp(keys_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs("# team keys\nck-alice\n\n  ck-bob  \nck-carol-with-a-much-longer-key\n", f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static void remove_keys_file(void)
{
	unlink(keys_path);
}

static struct config *load(const char *yaml)
{
	struct config *cfg = NULL;
	char err[512] = "";

	ck_assert_msg(config_load_string("auth.yaml", yaml, strlen(yaml), &cfg, err, sizeof err) == 0,
		      "refused: %s", err);
	return cfg;
}

static struct config *load_with_client_keys(void)
{
	char yaml[1024];

	snprintf(yaml, sizeof yaml, "auth:\n  client_keys_file: %s\n" OK_UPSTREAMS OK_MODELS, keys_path);
	return load(yaml);
}

/* ---- auth_equal ----------------------------------------------------------- */

START_TEST(equal_tokens_match)
{
	ck_assert(auth_equal("sk-abc", 6, "sk-abc", 6));
	ck_assert(auth_equal("", 0, "", 0));
	ck_assert(auth_equal("a\0b", 3, "a\0b", 3));
}
END_TEST

START_TEST(tokens_differing_anywhere_do_not_match)
{
	ck_assert(!auth_equal("sk-abc", 6, "sk-abd", 6));
	ck_assert(!auth_equal("sk-abc", 6, "tk-abc", 6));
	ck_assert(!auth_equal("sk-abc", 6, "SK-ABC", 6));
	ck_assert(!auth_equal("a\0b", 3, "a\0c", 3));
}
END_TEST

START_TEST(prefix_of_a_token_does_not_match)
{
	ck_assert(!auth_equal("sk-ab", 5, "sk-abc", 6));
	ck_assert(!auth_equal("sk-abc", 6, "sk-ab", 5));
	ck_assert(!auth_equal("", 0, "x", 1));
	/* Padding with NULs is not the same token. */
	ck_assert(!auth_equal("ab\0", 3, "ab", 2));
}
END_TEST

/* ---- auth_bearer ---------------------------------------------------------- */

static void assert_bearer(const char *header, const char *token)
{
	size_t len = 12345;
	const char *got = auth_bearer(header, &len);

	ck_assert_msg(got != NULL, "no token in \"%s\"", header);
	ck_assert_msg(len == strlen(token) && strncmp(got, token, len) == 0, "\"%s\": got \"%.*s\"", header,
		      (int)len, got);
}

static void assert_no_bearer(const char *header)
{
	size_t len = 12345;

	ck_assert_msg(auth_bearer(header, &len) == NULL, "token found in \"%s\"", header != NULL ? header : "(null)");
}

START_TEST(bearer_token_is_found)
{
	assert_bearer("Bearer sk-abc", "sk-abc");
	assert_bearer("Bearer a", "a");
}
END_TEST

START_TEST(bearer_scheme_is_case_insensitive)
{
	assert_bearer("bearer sk-abc", "sk-abc");
	assert_bearer("BEARER sk-abc", "sk-abc");
	assert_bearer("bEaReR sk-abc", "sk-abc");
}
END_TEST

START_TEST(spaces_around_the_token_are_not_part_of_it)
{
	assert_bearer("Bearer    sk-abc", "sk-abc");
	assert_bearer("Bearer sk-abc   ", "sk-abc");
	assert_bearer("Bearer sk-abc\t", "sk-abc");
	assert_bearer("Bearer   sk-abc \t ", "sk-abc");
}
END_TEST

START_TEST(empty_bearer_token_is_no_token)
{
	assert_no_bearer("Bearer ");
	assert_no_bearer("Bearer     ");
	assert_no_bearer("Bearer \t ");
	assert_no_bearer("Bearer");
}
END_TEST

START_TEST(other_schemes_and_missing_header_give_no_token)
{
	assert_no_bearer(NULL);
	assert_no_bearer("");
	assert_no_bearer("Basic dXNlcjpwYXNz");
	assert_no_bearer("sk-abc");
	assert_no_bearer("Bearersk-abc");
	assert_no_bearer("Token sk-abc");
	assert_no_bearer(" Bearer sk-abc");
}
END_TEST

/* ---- client keys ---------------------------------------------------------- */

START_TEST(client_auth_off_lets_everyone_in)
{
	struct config *cfg = load(OK_UPSTREAMS OK_MODELS);

	ck_assert_ptr_null(cfg->auth.client_keys);
	ck_assert(auth_client_allowed(cfg, NULL));
	ck_assert(auth_client_allowed(cfg, ""));
	ck_assert(auth_client_allowed(cfg, "Bearer anything"));
	ck_assert(auth_client_allowed(cfg, "Basic dXNlcjpwYXNz"));
	config_free(cfg);
}
END_TEST

START_TEST(every_listed_client_key_is_let_in)
{
	struct config *cfg = load_with_client_keys();

	ck_assert_uint_eq(cfg->auth.nclient_keys, 3);
	ck_assert(auth_client_allowed(cfg, "Bearer ck-alice"));
	ck_assert(auth_client_allowed(cfg, "Bearer ck-bob"));
	ck_assert(auth_client_allowed(cfg, "Bearer ck-carol-with-a-much-longer-key"));
	ck_assert(auth_client_allowed(cfg, "bearer   ck-bob  "));
	config_free(cfg);
}
END_TEST

START_TEST(unknown_or_missing_client_key_is_turned_away)
{
	struct config *cfg = load_with_client_keys();

	ck_assert(!auth_client_allowed(cfg, NULL));
	ck_assert(!auth_client_allowed(cfg, ""));
	ck_assert(!auth_client_allowed(cfg, "Bearer "));
	ck_assert(!auth_client_allowed(cfg, "Bearer ck-mallory"));
	ck_assert(!auth_client_allowed(cfg, "Bearer ck-alic"));
	ck_assert(!auth_client_allowed(cfg, "Bearer ck-alice2"));
	ck_assert(!auth_client_allowed(cfg, "Bearer CK-ALICE"));
	ck_assert(!auth_client_allowed(cfg, "ck-alice"));
	ck_assert(!auth_client_allowed(cfg, "Basic ck-alice"));
	ck_assert(!auth_client_allowed(cfg, "Bearer # team keys"));
	config_free(cfg);
}
END_TEST

/* ---- admin token ---------------------------------------------------------- */

START_TEST(admin_token_lets_the_admin_in)
{
	struct config *cfg;

	setenv("DETOUR_TEST_ADMIN_TOKEN", "adm-secret", 1);
	cfg = load("auth:\n  admin_token_env: DETOUR_TEST_ADMIN_TOKEN\n" OK_UPSTREAMS OK_MODELS);
	ck_assert(auth_admin_allowed(cfg, "Bearer adm-secret"));
	ck_assert(auth_admin_allowed(cfg, "BEARER  adm-secret "));
	ck_assert(!auth_admin_allowed(cfg, "Bearer adm-secre"));
	ck_assert(!auth_admin_allowed(cfg, "Bearer adm-secret-2"));
	ck_assert(!auth_admin_allowed(cfg, "Bearer "));
	ck_assert(!auth_admin_allowed(cfg, NULL));
	ck_assert(!auth_admin_allowed(cfg, "adm-secret"));
	config_free(cfg);
}
END_TEST

START_TEST(admin_token_absent_turns_everyone_away)
{
	struct config *cfg = load(OK_UPSTREAMS OK_MODELS);

	ck_assert_ptr_null(cfg->auth.admin_token);
	ck_assert(!auth_admin_allowed(cfg, NULL));
	ck_assert(!auth_admin_allowed(cfg, ""));
	ck_assert(!auth_admin_allowed(cfg, "Bearer "));
	ck_assert(!auth_admin_allowed(cfg, "Bearer anything"));
	config_free(cfg);
}
END_TEST

START_TEST(client_key_is_not_an_admin_token_nor_the_reverse)
{
	char yaml[1024];
	struct config *cfg;

	setenv("DETOUR_TEST_ADMIN_TOKEN", "adm-secret", 1);
	snprintf(yaml, sizeof yaml,
		 "auth:\n  client_keys_file: %s\n  admin_token_env: DETOUR_TEST_ADMIN_TOKEN\n" OK_UPSTREAMS OK_MODELS,
		 keys_path);
	cfg = load(yaml);
	ck_assert(!auth_admin_allowed(cfg, "Bearer ck-alice"));
	ck_assert(!auth_client_allowed(cfg, "Bearer adm-secret"));
	ck_assert(auth_admin_allowed(cfg, "Bearer adm-secret"));
	ck_assert(auth_client_allowed(cfg, "Bearer ck-alice"));
	config_free(cfg);
}
END_TEST

Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *equal = tcase_create("equal");
	TCase *bearer = tcase_create("bearer");
	TCase *client = tcase_create("client keys");
	TCase *admin = tcase_create("admin token");

	tcase_add_test(equal, equal_tokens_match);
	tcase_add_test(equal, tokens_differing_anywhere_do_not_match);
	tcase_add_test(equal, prefix_of_a_token_does_not_match);
	suite_add_tcase(s, equal);

	tcase_add_test(bearer, bearer_token_is_found);
	tcase_add_test(bearer, bearer_scheme_is_case_insensitive);
	tcase_add_test(bearer, spaces_around_the_token_are_not_part_of_it);
	tcase_add_test(bearer, empty_bearer_token_is_no_token);
	tcase_add_test(bearer, other_schemes_and_missing_header_give_no_token);
	suite_add_tcase(s, bearer);

	tcase_add_checked_fixture(client, write_keys_file, remove_keys_file);
	tcase_add_test(client, client_auth_off_lets_everyone_in);
	tcase_add_test(client, every_listed_client_key_is_let_in);
	tcase_add_test(client, unknown_or_missing_client_key_is_turned_away);
	suite_add_tcase(s, client);

	tcase_add_checked_fixture(admin, write_keys_file, remove_keys_file);
	tcase_add_test(admin, admin_token_lets_the_admin_in);
	tcase_add_test(admin, admin_token_absent_turns_everyone_away);
	tcase_add_test(admin, client_key_is_not_an_admin_token_nor_the_reverse);
	suite_add_tcase(s, admin);
	return s;
}
