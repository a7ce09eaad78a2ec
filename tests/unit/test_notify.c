/* test_notify.c — the notify protocol: one datagram to a path or an abstract name, and the watchdog's variables. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"
#include "suites.h"

/* A datagram socket bound to address ("@name" or a path), like a service manager's. */
static int listen_on(const char *address)
{
	struct sockaddr_un sa;
	size_t len = strlen(address);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, address, len);
	if (address[0] == '@')
		sa.sun_path[0] = '\0';
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (address[0] == '/'))), 0);
	return fd;
}

static void expect(int fd, const char *want)
{
	char buf[512];
	ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);

	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

START_TEST(a_message_reaches_an_abstract_name)
{
	char address[64];
	int fd;

	snprintf(address, sizeof address, "@detour-test-notify-%ld", (long)getpid());
	fd = listen_on(address);
	setenv("NOTIFY_SOCKET", address, 1);
	ck_assert_int_eq(notify_send("READY=1\nSTATUS=listening"), 1);
	expect(fd, "READY=1\nSTATUS=listening");
	unsetenv("NOTIFY_SOCKET");
	close(fd);
}
END_TEST

START_TEST(a_message_reaches_a_path)
{
	char address[64];
	int fd;

	snprintf(address, sizeof address, "/tmp/detour-test-notify-%ld", (long)getpid());
	unlink(address);
	fd = listen_on(address);
	ck_assert_int_eq(notify_send_to(address, "WATCHDOG=1"), 0);
	expect(fd, "WATCHDOG=1");
	close(fd);
	unlink(address);
}
END_TEST

START_TEST(no_socket_means_nothing_to_do)
{
	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	ck_assert_int_eq(notify_send("READY=1"), 0);
	unsetenv("NOTIFY_SOCKET");
	errno = 0;
	ck_assert_int_eq(notify_send_to("relative/path", "READY=1"), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(notify_send_to("@detour-test-nobody-listens-here", "READY=1"), -1);
}
END_TEST

START_TEST(the_watchdog_is_ours_only_when_its_pid_is)
{
	char pid[32];

	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	ck_assert_uint_eq(notify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	ck_assert_uint_eq(notify_watchdog_usec(), 30000000u);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	ck_assert_uint_eq(notify_watchdog_usec(), 30000000u);
	setenv("WATCHDOG_PID", "1", 1);
	ck_assert_uint_eq(notify_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "30s", 1);
	ck_assert_uint_eq(notify_watchdog_usec(), 0);
	unsetenv("WATCHDOG_USEC");
}
END_TEST

START_TEST(monotonic_usec_is_a_number)
{
	char buf[64];
	unsigned long long n = 0;

	ck_assert_int_eq(sscanf(notify_monotonic_usec(buf, sizeof buf), "MONOTONIC_USEC=%llu", &n), 1);
	ck_assert_uint_gt(n, 0);
}
END_TEST

Suite *notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_add_test(tc, a_message_reaches_an_abstract_name);
	tcase_add_test(tc, a_message_reaches_a_path);
	tcase_add_test(tc, no_socket_means_nothing_to_do);
	tcase_add_test(tc, the_watchdog_is_ours_only_when_its_pid_is);
	tcase_add_test(tc, monotonic_usec_is_a_number);
	suite_add_tcase(s, tc);
	return s;
}
