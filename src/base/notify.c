/* notify.c — the service manager's notify protocol: datagrams to $NOTIFY_SOCKET (READY=1, STATUS=, WATCHDOG=1...), no libsystemd. */
#include "notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int notify_send_to(const char *address, const char *message)
{
	struct sockaddr_un sa;
	size_t len = strlen(address);
	socklen_t salen;
	int fd = -1, rc = -1, saved;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (len == 0 || (address[0] != '/' && address[0] != '@')) {
		errno = EINVAL;
		goto fail;
	}
	if (len > sizeof sa.sun_path || (address[0] == '/' && len == sizeof sa.sun_path)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	memcpy(sa.sun_path, address, len);
	/* An abstract name starts with a NUL and is exactly as long as given: no NUL after it. */
	if (address[0] == '@') {
		sa.sun_path[0] = '\0';
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	if (sendto(fd, message, strlen(message), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		goto fail;
	rc = 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
	return rc;
}

int notify_send(const char *message)
{
	const char *address = getenv("NOTIFY_SOCKET");

	if (address == NULL || address[0] == '\0')
		return 0;
	return notify_send_to(address, message) == 0 ? 1 : -1;
}

/* A whole decimal number, or 0 for anything else. */
static uint64_t notify_number(const char *text)
{
	char *end;
	unsigned long long n;

	if (text == NULL || text[0] < '0' || text[0] > '9')
		return 0;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	return (uint64_t)n;
}

uint64_t notify_watchdog_usec(void)
{
	const char *pid = getenv("WATCHDOG_PID");

	/* A child would inherit the variables: only the process they name pings. */
	if (pid != NULL && notify_number(pid) != (uint64_t)getpid())
		return 0;
	return notify_number(getenv("WATCHDOG_USEC"));
}

const char *notify_monotonic_usec(char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, len, "MONOTONIC_USEC=%" PRIu64,
		 (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
	return buf;
}
