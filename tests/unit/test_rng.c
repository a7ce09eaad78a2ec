/* test_rng.c — the per-thread generator: bounds, hex ids, and seeds that repeat. */
#include <stdint.h>
#include <string.h>

#include "rng.h"
#include "suites.h"

START_TEST(same_seed_gives_the_same_sequence)
{
	struct rng a, b;
	int i;

	rng_seed_with(&a, 42);
	rng_seed_with(&b, 42);
	for (i = 0; i < 1000; i++)
		ck_assert_uint_eq(rng_next(&a), rng_next(&b));
}
END_TEST

START_TEST(different_seeds_give_different_sequences)
{
	struct rng a, b;
	int i, same = 0;

	rng_seed_with(&a, 1);
	rng_seed_with(&b, 2);
	for (i = 0; i < 100; i++)
		same += rng_next(&a) == rng_next(&b);
	ck_assert_int_lt(same, 2);
}
END_TEST

START_TEST(seed_zero_still_yields_varied_numbers)
{
	struct rng r;
	uint64_t first;
	int i, repeats = 0;

	rng_seed_with(&r, 0);
	ck_assert(r.s[0] != 0 || r.s[1] != 0 || r.s[2] != 0 || r.s[3] != 0);
	first = rng_next(&r);
	for (i = 0; i < 100; i++)
		repeats += rng_next(&r) == first;
	ck_assert_int_eq(repeats, 0);
}
END_TEST

START_TEST(reseeding_restarts_the_sequence)
{
	struct rng r;
	uint64_t first[4];
	int i;

	rng_seed_with(&r, 9001);
	for (i = 0; i < 4; i++)
		first[i] = rng_next(&r);
	rng_seed_with(&r, 9001);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(rng_next(&r), first[i]);
}
END_TEST

START_TEST(kernel_seeds_differ_between_generators)
{
	struct rng a, b;

	rng_seed(&a);
	rng_seed(&b);
	ck_assert(memcmp(a.s, b.s, sizeof a.s) != 0);
}
END_TEST

START_TEST(below_stays_under_its_bound)
{
	static const uint64_t bounds[] = { 1, 2, 3, 7, 10, 100, 1000003, UINT64_C(1) << 32, UINT64_MAX };
	struct rng r;
	size_t b;
	int i;

	rng_seed_with(&r, 3);
	for (b = 0; b < sizeof bounds / sizeof bounds[0]; b++)
		for (i = 0; i < 10000; i++)
			ck_assert_uint_lt(rng_below(&r, bounds[b]), bounds[b]);
}
END_TEST

START_TEST(below_one_and_below_zero_give_zero)
{
	struct rng r;
	int i;

	rng_seed_with(&r, 5);
	for (i = 0; i < 100; i++) {
		ck_assert_uint_eq(rng_below(&r, 1), 0);
		ck_assert_uint_eq(rng_below(&r, 0), 0);
	}
}
END_TEST

START_TEST(below_reaches_every_value_of_a_small_bound_evenly)
{
	struct rng r;
	unsigned counts[10] = { 0 };
	int i;

	rng_seed_with(&r, 11);
	for (i = 0; i < 100000; i++)
		counts[rng_below(&r, 10)]++;
	/* 10000 expected each; 5 standard deviations is about ±475. */
	for (i = 0; i < 10; i++) {
		ck_assert_uint_gt(counts[i], 9500);
		ck_assert_uint_lt(counts[i], 10500);
	}
}
END_TEST

START_TEST(hex_has_the_asked_length_and_only_lowercase_digits)
{
	static const size_t lengths[] = { 0, 1, 15, 16, 17, 32, 33, 64 };
	struct rng r;
	char out[80];
	size_t l, i;

	rng_seed_with(&r, 17);
	for (l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
		memset(out, 'Z', sizeof out);
		rng_hex(&r, out, lengths[l]);
		ck_assert_uint_eq(strlen(out), lengths[l]);
		for (i = 0; i < lengths[l]; i++)
			ck_assert_msg(strchr("0123456789abcdef", out[i]) != NULL && out[i] != '\0',
				      "'%c' in %s", out[i], out);
		ck_assert_int_eq(out[lengths[l] + 1], 'Z'); /* nothing written past the NUL */
	}
}
END_TEST

START_TEST(hex_ids_use_every_digit_and_do_not_repeat)
{
	struct rng r;
	char a[33], b[33];
	int seen[16] = { 0 }, i, j;

	rng_seed_with(&r, 23);
	for (i = 0; i < 100; i++) {
		rng_hex(&r, a, 32);
		rng_hex(&r, b, 32);
		ck_assert_str_ne(a, b);
		for (j = 0; j < 32; j++)
			seen[a[j] <= '9' ? a[j] - '0' : a[j] - 'a' + 10]++;
	}
	for (i = 0; i < 16; i++)
		ck_assert_int_gt(seen[i], 0);
}
END_TEST

START_TEST(hex_from_the_same_seed_repeats)
{
	struct rng a, b;
	char x[25], y[25];

	rng_seed_with(&a, 99);
	rng_seed_with(&b, 99);
	rng_hex(&a, x, 24);
	rng_hex(&b, y, 24);
	ck_assert_str_eq(x, y);
}
END_TEST

Suite *rng_suite(void)
{
	Suite *s = suite_create("rng");
	TCase *seed = tcase_create("seeding");
	TCase *below = tcase_create("below");
	TCase *hex = tcase_create("hex");

	tcase_add_test(seed, same_seed_gives_the_same_sequence);
	tcase_add_test(seed, different_seeds_give_different_sequences);
	tcase_add_test(seed, seed_zero_still_yields_varied_numbers);
	tcase_add_test(seed, reseeding_restarts_the_sequence);
	tcase_add_test(seed, kernel_seeds_differ_between_generators);
	suite_add_tcase(s, seed);

	tcase_add_test(below, below_stays_under_its_bound);
	tcase_add_test(below, below_one_and_below_zero_give_zero);
	tcase_add_test(below, below_reaches_every_value_of_a_small_bound_evenly);
	suite_add_tcase(s, below);

	tcase_add_test(hex, hex_has_the_asked_length_and_only_lowercase_digits);
	tcase_add_test(hex, hex_ids_use_every_digit_and_do_not_repeat);
	tcase_add_test(hex, hex_from_the_same_seed_repeats);
	suite_add_tcase(s, hex);
	return s;
}
