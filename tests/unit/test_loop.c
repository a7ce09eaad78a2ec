/* test_loop.c — the event loop calls back the owner of each watched descriptor, and only while it watches. */
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"
#include "suites.h"

struct owner {
	struct loop_watch watch;
	int calls;
	uint32_t events;
};

static void owner_event(struct loop_watch *w, uint32_t events)
{
	struct owner *o = w->arg;

	o->calls++;
	o->events = events;
}

START_TEST(a_readable_pipe_calls_its_owner_with_its_pointer)
{
	struct loop l;
	struct owner a = { 0 }, b = { 0 };
	int pa[2], pb[2];

	ck_assert_int_eq(loop_init(&l), 0);
	ck_assert_int_eq(pipe(pa), 0);
	ck_assert_int_eq(pipe(pb), 0);
	loop_watch_init(&a.watch, owner_event, &a);
	loop_watch_init(&b.watch, owner_event, &b);
	ck_assert_int_eq(loop_watch_fd(&l, &a.watch, pa[0], EPOLLIN), 0);
	ck_assert_int_eq(loop_watch_fd(&l, &b.watch, pb[0], EPOLLIN), 0);
	ck_assert_int_eq(loop_run_once(&l, 0), 0);      /* nothing ready */
	ck_assert_int_eq(write(pa[1], "x", 1), 1);
	ck_assert_int_eq(loop_run_once(&l, 1000), 1);
	ck_assert_int_eq(a.calls, 1);
	ck_assert(a.events & EPOLLIN);
	ck_assert_int_eq(b.calls, 0);
	loop_unwatch(&l, &a.watch);
	ck_assert_int_eq(a.watch.fd, -1);
	ck_assert_int_eq(loop_run_once(&l, 0), 0);      /* still readable, but no longer watched */
	ck_assert_int_eq(a.calls, 1);
	loop_unwatch(&l, &a.watch);                     /* harmless twice */
	close(pa[0]);
	close(pa[1]);
	close(pb[0]);
	close(pb[1]);
	loop_free(&l);
}
END_TEST

START_TEST(watching_again_changes_the_events)
{
	struct loop l;
	struct owner a = { 0 };
	int p[2];

	ck_assert_int_eq(loop_init(&l), 0);
	ck_assert_int_eq(pipe(p), 0);
	loop_watch_init(&a.watch, owner_event, &a);
	ck_assert_int_eq(loop_watch_fd(&l, &a.watch, p[1], EPOLLIN), 0);
	ck_assert_int_eq(loop_run_once(&l, 0), 0);      /* a pipe's write end is never readable */
	ck_assert_int_eq(loop_watch_fd(&l, &a.watch, p[1], EPOLLOUT), 0);
	ck_assert_int_eq(loop_run_once(&l, 1000), 1);
	ck_assert(a.events & EPOLLOUT);
	close(p[0]);
	close(p[1]);
	loop_free(&l);
}
END_TEST

Suite *loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");

	tcase_add_test(tc, a_readable_pipe_calls_its_owner_with_its_pointer);
	tcase_add_test(tc, watching_again_changes_the_events);
	suite_add_tcase(s, tc);
	return s;
}
