/* test_redis.c — shared.redis read into where to connect. */
#include <check.h>

#include "redis.h"
#include "suites.h"

static int parse(const char *url, char *host, unsigned *port, char *path, unsigned *db)
{
	return redis_parse_url(url, host, 64, port, path, 64, db);
}

START_TEST(tcp_urls_give_host_port_and_db)
{
	char host[64], path[64];
	unsigned port, db;

	ck_assert_int_eq(parse("redis://127.0.0.1:6390/3", host, &port, path, &db), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_uint_eq(port, 6390);
	ck_assert_uint_eq(db, 3);
	ck_assert_str_eq(path, "");
	ck_assert_int_eq(parse("redis://redis", host, &port, path, &db), 0);
	ck_assert_str_eq(host, "redis");
	ck_assert_uint_eq(port, 6379);
	ck_assert_uint_eq(db, 0);
	ck_assert_int_eq(parse("redis://user@cache.local:7000", host, &port, path, &db), 0);
	ck_assert_str_eq(host, "cache.local");
	ck_assert_uint_eq(port, 7000);
}
END_TEST

START_TEST(unix_urls_give_a_path)
{
	char host[64], path[64];
	unsigned port, db;

	ck_assert_int_eq(parse("unix:/run/redis/redis.sock", host, &port, path, &db), 0);
	ck_assert_str_eq(path, "/run/redis/redis.sock");
	ck_assert_int_eq(parse("unix:", host, &port, path, &db), -1);
}
END_TEST

START_TEST(malformed_urls_are_refused)
{
	char host[64], path[64];
	unsigned port, db;

	ck_assert_int_eq(parse("http://127.0.0.1:6379", host, &port, path, &db), -1);
	ck_assert_int_eq(parse("redis://", host, &port, path, &db), -1);
	ck_assert_int_eq(parse("redis://h:0", host, &port, path, &db), -1);
	ck_assert_int_eq(parse("redis://h:70000", host, &port, path, &db), -1);
	ck_assert_int_eq(parse("redis://h:12x", host, &port, path, &db), -1);
	ck_assert_int_eq(parse("redis://h:1/db", host, &port, path, &db), -1);
}
END_TEST

Suite *redis_suite(void)
{
	Suite *s = suite_create("redis");
	TCase *tc = tcase_create("url");

	tcase_add_test(tc, tcp_urls_give_host_port_and_db);
	tcase_add_test(tc, unix_urls_give_a_path);
	tcase_add_test(tc, malformed_urls_are_refused);
	suite_add_tcase(s, tc);
	return s;
}
