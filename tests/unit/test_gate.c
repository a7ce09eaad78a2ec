/* test_gate.c — a worker that was at its connection limit, or out of descriptors, runs libmicrohttpd again once room is freed; warnings are rate-limited. */
#include <check.h>

#include "gate.h"
#include "suites.h"

START_TEST(limit_reached_then_connections_closed_asks_for_another_run)
{
	struct gate g;
	bool shut;

	gate_init(&g);
	ck_assert(!gate_after_run(&g, 1, 2, 2, &shut));
	ck_assert(shut);
	/* Nothing closed yet: no extra run, still shut, no second "newly shut". */
	ck_assert(!gate_after_run(&g, 2, 2, 2, &shut));
	ck_assert(!shut);
	/* client_timeout closed both at the end of a run: one more run re-arms the socket. */
	ck_assert(gate_after_run(&g, 2, 0, 2, &shut));
	ck_assert(!shut);
	/* That run re-armed it: the door is open, no more extra runs. */
	ck_assert(!gate_after_run(&g, 0, 0, 2, &shut));
	ck_assert(!gate_after_run(&g, 1, 0, 2, &shut));
}
END_TEST

START_TEST(out_of_descriptors_below_the_limit_also_shuts_the_door)
{
	struct gate g;
	bool shut;

	gate_init(&g);
	gate_note_out_of_fds(&g);
	ck_assert(!gate_after_run(&g, 3, 3, 100, &shut));
	ck_assert(shut);
	ck_assert(!g.at_limit);
	ck_assert(gate_after_run(&g, 3, 2, 100, &shut));
}
END_TEST

START_TEST(a_closed_connection_on_an_open_door_needs_no_extra_run)
{
	struct gate g;
	bool shut;

	gate_init(&g);
	ck_assert(!gate_after_run(&g, 5, 1, 10, &shut));
	ck_assert(!shut);
}
END_TEST

START_TEST(warnings_come_at_most_every_ten_seconds_and_count_the_rest)
{
	struct gate g;
	unsigned times = 0;

	gate_init(&g);
	ck_assert(gate_warn_due(&g, 1000, &times));
	ck_assert_uint_eq(times, 1);
	ck_assert(!gate_warn_due(&g, 2000, &times));
	ck_assert(!gate_warn_due(&g, 1000 + GATE_WARN_EVERY_MS - 1, &times));
	ck_assert(gate_warn_due(&g, 1000 + GATE_WARN_EVERY_MS, &times));
	ck_assert_uint_eq(times, 3);
}
END_TEST

Suite *gate_suite(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("gate");

	tcase_add_test(tc, limit_reached_then_connections_closed_asks_for_another_run);
	tcase_add_test(tc, out_of_descriptors_below_the_limit_also_shuts_the_door);
	tcase_add_test(tc, a_closed_connection_on_an_open_door_needs_no_extra_run);
	tcase_add_test(tc, warnings_come_at_most_every_ten_seconds_and_count_the_rest);
	suite_add_tcase(s, tc);
	return s;
}
