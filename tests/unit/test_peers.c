/* test_peers.c — one address holds at most its cap of connections; closing gives a place back. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "peers.h"
#include "suites.h"

static size_t key_of(const char *ip, unsigned char key[16])
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
		ss.ss_family = AF_INET6;
	}
	return peers_key((struct sockaddr *)&ss, key);
}

START_TEST(an_address_at_its_cap_is_refused_until_one_closes)
{
	static struct peers p = PEERS_INITIALIZER;
	unsigned char a[16], b[16];
	size_t alen = key_of("10.0.0.1", a), blen = key_of("10.0.0.2", b);

	ck_assert_int_eq(peers_take(&p, a, alen, 2), 0);
	ck_assert_int_eq(peers_take(&p, a, alen, 2), 0);
	ck_assert_int_eq(peers_take(&p, a, alen, 2), 1);
	ck_assert_uint_eq(peers_count(&p, a, alen), 2);
	/* Another address is not affected. */
	ck_assert_int_eq(peers_take(&p, b, blen, 2), 0);
	peers_release(&p, a, alen);
	ck_assert_int_eq(peers_take(&p, a, alen, 2), 0);
	peers_release(&p, a, alen);
	peers_release(&p, a, alen);
	peers_release(&p, a, alen); /* one too many is harmless */
	ck_assert_uint_eq(peers_count(&p, a, alen), 0);
	ck_assert_uint_eq(peers_count(&p, b, blen), 1);
	peers_clear(&p);
}
END_TEST

START_TEST(ipv4_mapped_ipv6_is_the_same_address_as_ipv4)
{
	static struct peers p = PEERS_INITIALIZER;
	unsigned char a[16], m[16], six[16];
	size_t alen = key_of("192.0.2.7", a), mlen = key_of("::ffff:192.0.2.7", m), slen = key_of("2001:db8::7", six);

	ck_assert_uint_eq(alen, 4);
	ck_assert_uint_eq(mlen, 4);
	ck_assert_uint_eq(slen, 16);
	ck_assert_int_eq(peers_take(&p, a, alen, 1), 0);
	ck_assert_int_eq(peers_take(&p, m, mlen, 1), 1);
	ck_assert_int_eq(peers_take(&p, six, slen, 1), 0);
	peers_clear(&p);
}
END_TEST

START_TEST(a_zero_cap_refuses_and_keeps_no_entry)
{
	static struct peers p = PEERS_INITIALIZER;
	unsigned char a[16];
	size_t alen = key_of("10.0.0.9", a);

	ck_assert_int_eq(peers_take(&p, a, alen, 0), 1);
	ck_assert_uint_eq(peers_count(&p, a, alen), 0);
}
END_TEST

Suite *peers_suite(void)
{
	Suite *s = suite_create("peers");
	TCase *tc = tcase_create("peers");

	tcase_add_test(tc, an_address_at_its_cap_is_refused_until_one_closes);
	tcase_add_test(tc, ipv4_mapped_ipv6_is_the_same_address_as_ipv4);
	tcase_add_test(tc, a_zero_cap_refuses_and_keeps_no_entry);
	suite_add_tcase(s, tc);
	return s;
}
