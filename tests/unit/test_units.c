/* test_units.c — durations, sizes and whole numbers as the configuration writes them, and what they refuse. */
#include <stdint.h>

#include "suites.h"
#include "units.h"

struct duration_case {
	const char *text;
	uint64_t ms;
};

struct size_case {
	const char *text;
	size_t bytes;
};

static const struct duration_case good_durations[] = {
	{ "0", 0 },
	{ "0ms", 0 },
	{ "0s", 0 },
	{ "250ms", 250 },
	{ "30s", 30000 },
	{ "5m", 300000 },
	{ "1h", 3600000 },
	{ "007s", 7000 },
	{ "18446744073709551615ms", UINT64_MAX },
	{ "5124095576030h", UINT64_C(5124095576030) * 3600000 }, /* the most hours that fit */
};

static const char *const bad_durations[] = {
	"", "s", "ms", "5", "-1s", "+1s", "1.5s", " 1s", "1s ", "1 s", "1S", "1MS", "1sec",
	"1d", "1hm", "1s1", "0x10s", "1e3ms", "１s",
};

static const char *const overflowing_durations[] = {
	"18446744073709551616ms",  /* 2^64 */
	"18446744073709551615s",   /* fits as a number, not as milliseconds */
	"5124095576031h",
	"99999999999999999999999999ms",
};

static const struct size_case good_sizes[] = {
	{ "0", 0 },
	{ "512", 512 },
	{ "512B", 512 },
	{ "4KiB", 4096 },
	{ "4KB", 4096 },
	{ "1MiB", 1048576 },
	{ "1MB", 1048576 },
	{ "2GiB", (size_t)2 << 30 },
	{ "1GB", (size_t)1 << 30 },
#if SIZE_MAX == UINT64_MAX
	{ "18446744073709551615", SIZE_MAX },
	{ "17179869183GiB", SIZE_MAX - ((size_t)1 << 30) + 1 }, /* the most GiB that fit */
#endif
};

static const char *const bad_sizes[] = {
	"", "B", "KiB", "4kib", "4kb", "4K", "4k", "4M", "4 KiB", "4KiB ", "-1", "+1",
	"1.5MiB", "4KiBs", "4iB", "4TiB", "0x10",
};

static const char *const overflowing_sizes[] = {
	"18446744073709551616",
	"17179869184GiB",          /* 2^34 GiB = 2^64 bytes */
	"18014398509481984KiB",    /* 2^54 KiB = 2^64 bytes */
};

START_TEST(duration_in_every_unit_is_read_as_milliseconds)
{
	uint64_t ms = 1;

	ck_assert_msg(units_parse_duration(good_durations[_i].text, &ms) == 0, "%s", good_durations[_i].text);
	ck_assert_uint_eq(ms, good_durations[_i].ms);
}
END_TEST

START_TEST(duration_with_a_sign_space_fraction_or_unknown_unit_is_refused)
{
	uint64_t ms = 42;

	ck_assert_msg(units_parse_duration(bad_durations[_i], &ms) == -1, "\"%s\" accepted", bad_durations[_i]);
	ck_assert_uint_eq(ms, 42);
}
END_TEST

START_TEST(duration_past_64_bits_of_milliseconds_is_refused)
{
	uint64_t ms = 42;

	ck_assert_msg(units_parse_duration(overflowing_durations[_i], &ms) == -1, "%s", overflowing_durations[_i]);
	ck_assert_uint_eq(ms, 42);
}
END_TEST

START_TEST(duration_of_null_is_refused)
{
	uint64_t ms = 42;

	ck_assert_int_eq(units_parse_duration(NULL, &ms), -1);
	ck_assert_uint_eq(ms, 42);
}
END_TEST

START_TEST(size_in_every_unit_is_read_as_bytes)
{
	size_t bytes = 1;

	ck_assert_msg(units_parse_size(good_sizes[_i].text, &bytes) == 0, "%s", good_sizes[_i].text);
	ck_assert_uint_eq(bytes, good_sizes[_i].bytes);
}
END_TEST

START_TEST(size_with_a_sign_space_fraction_or_unknown_unit_is_refused)
{
	size_t bytes = 42;

	ck_assert_msg(units_parse_size(bad_sizes[_i], &bytes) == -1, "\"%s\" accepted", bad_sizes[_i]);
	ck_assert_uint_eq(bytes, 42);
}
END_TEST

START_TEST(size_past_size_t_is_refused)
{
	size_t bytes = 42;

	ck_assert_msg(units_parse_size(overflowing_sizes[_i], &bytes) == -1, "%s", overflowing_sizes[_i]);
	ck_assert_uint_eq(bytes, 42);
}
END_TEST

/* The whole numbers of the configuration: digits only, a cap, and "too large" told apart from "not a number". */
START_TEST(whole_numbers_are_digits_only_within_their_cap)
{
	uint64_t n = 42;

	ck_assert_int_eq(units_parse_uint("0", 10, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(units_parse_uint("0065535", 65535, &n), 0);
	ck_assert_uint_eq(n, 65535);
	ck_assert_int_eq(units_parse_uint("18446744073709551615", UINT64_MAX, &n), 0);
	ck_assert_uint_eq(n, UINT64_MAX);
	n = 42;
	ck_assert_int_eq(units_parse_uint("65536", 65535, &n), -2);
	ck_assert_int_eq(units_parse_uint("18446744073709551616", UINT64_MAX, &n), -2);
	ck_assert_int_eq(units_parse_uint("99999x", 256, &n), -2); /* past the cap before the x */
	ck_assert_int_eq(units_parse_uint("", 10, &n), -1);
	ck_assert_int_eq(units_parse_uint("-1", 10, &n), -1);
	ck_assert_int_eq(units_parse_uint("+1", 10, &n), -1);
	ck_assert_int_eq(units_parse_uint("1x", 10, &n), -1);
	ck_assert_int_eq(units_parse_uint(" 1", 10, &n), -1);
	ck_assert_int_eq(units_parse_uint("1e3", 10000, &n), -1);
	ck_assert_int_eq(units_parse_uint(NULL, 10, &n), -1);
	ck_assert_uint_eq(n, 42);
}
END_TEST

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *units_suite(void)
{
	Suite *s = suite_create("units");
	TCase *durations = tcase_create("durations");
	TCase *sizes = tcase_create("sizes");
	TCase *numbers = tcase_create("numbers");

	tcase_add_loop_test(durations, duration_in_every_unit_is_read_as_milliseconds, 0, COUNT(good_durations));
	tcase_add_loop_test(durations, duration_with_a_sign_space_fraction_or_unknown_unit_is_refused, 0,
			    COUNT(bad_durations));
	tcase_add_loop_test(durations, duration_past_64_bits_of_milliseconds_is_refused, 0,
			    COUNT(overflowing_durations));
	tcase_add_test(durations, duration_of_null_is_refused);
	suite_add_tcase(s, durations);

	tcase_add_loop_test(sizes, size_in_every_unit_is_read_as_bytes, 0, COUNT(good_sizes));
	tcase_add_loop_test(sizes, size_with_a_sign_space_fraction_or_unknown_unit_is_refused, 0,
			    COUNT(bad_sizes));
	tcase_add_loop_test(sizes, size_past_size_t_is_refused, 0, COUNT(overflowing_sizes));
	suite_add_tcase(s, sizes);

	tcase_add_test(numbers, whole_numbers_are_digits_only_within_their_cap);
	suite_add_tcase(s, numbers);
	return s;
}
