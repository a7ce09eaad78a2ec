/* test_generation.c — the watchdog's view of a generation: alive only when every worker's loop turned. */
#include <check.h>
#include <string.h>

#include "generation.h"
#include "suites.h"
#include "worker.h"

START_TEST(alive_only_when_every_worker_turned)
{
	struct worker workers[3];
	struct generation g;

	memset(&g, 0, sizeof g);
	memset(workers, 0, sizeof workers);
	g.workers = workers;
	g.nworkers = 3;
	for (int i = 0; i < 3; i++)
		atomic_init(&workers[i].heartbeat, 1);
	ck_assert(generation_alive(&g));           /* each turned since the start */
	ck_assert(!generation_alive(&g));          /* none since the last look */
	atomic_fetch_add(&workers[0].heartbeat, 1);
	atomic_fetch_add(&workers[2].heartbeat, 5);
	ck_assert(!generation_alive(&g));          /* worker 1 is stuck: the watchdog is not told */
	atomic_fetch_add(&workers[0].heartbeat, 1);
	atomic_fetch_add(&workers[1].heartbeat, 1);
	atomic_fetch_add(&workers[2].heartbeat, 1);
	ck_assert(generation_alive(&g));
}
END_TEST

Suite *generation_suite(void)
{
	Suite *s = suite_create("generation");
	TCase *tc = tcase_create("generation");

	tcase_add_test(tc, alive_only_when_every_worker_turned);
	suite_add_tcase(s, tc);
	return s;
}
