/* probe.c — `detourd --probe`: asks the detourd a configuration file describes whether it is alive (a container's HEALTHCHECK). */
#include "probe.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "config_load.h"

/* Where to ask: a wildcard listen address is reached on loopback. */
static const char *probe_host(const char *host)
{
	if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
		return "127.0.0.1";
	if (strcmp(host, "::") == 0)
		return "::1";
	return host;
}

/* Waits for events on fd until deadline; 0 when ready, -1 on timeout or error. */
static int probe_wait(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = clock_now_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int n;

		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Connects to host:port before deadline; the socket, or -1 with errno set. */
static int probe_connect(const char *host, unsigned port, uint64_t deadline)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char service[8];
	int fd = -1, soerr = 0;
	socklen_t len = sizeof soerr;

	snprintf(service, sizeof service, "%u", port);
	if (getaddrinfo(host, service, &hints, &ai) != 0) {
		errno = EADDRNOTAVAIL;
		goto fail;
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
		goto fail;
	if (probe_wait(fd, POLLOUT, deadline) != 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
		errno = soerr != 0 ? soerr : errno;
		goto fail;
	}
	freeaddrinfo(ai);
	return fd;
fail:
	if (ai != NULL)
		freeaddrinfo(ai);
	if (fd >= 0) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return -1;
}

/* Sends the GET and reads the status code of the answer; 0 when none came. */
static int probe_status(int fd, const char *host, unsigned port, uint64_t deadline)
{
	char req[256], head[64];
	size_t got = 0;
	int n, status = 0;

	n = snprintf(req, sizeof req, "GET /health/live HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n\r\n",
		     strchr(host, ':') != NULL ? "localhost" : host, port);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		return 0;
	while (got < sizeof head - 1 && probe_wait(fd, POLLIN, deadline) == 0) {
		ssize_t r = recv(fd, head + got, sizeof head - 1 - got, 0);

		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		head[got] = '\0';
		if (strchr(head, '\n') != NULL)
			break;
	}
	head[got] = '\0';
	if (sscanf(head, "HTTP/1.%*1[01] %3d", &status) != 1)
		status = 0;
	return status;
}

int probe_run(const char *path, unsigned timeout_ms)
{
	struct config *cfg = NULL;
	char err[1024];
	const char *host;
	uint64_t deadline = clock_now_ms() + timeout_ms;
	int fd = -1, status = 0, rc = 1;

	if (config_load(path, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "detourd: probe: %s\n", err);
		goto fail;
	}
	host = probe_host(cfg->server.host);
	if ((fd = probe_connect(host, cfg->server.port, deadline)) < 0) {
		fprintf(stderr, "detourd: probe: %s port %u: %s\n", host, cfg->server.port, strerror(errno));
		goto fail;
	}
	status = probe_status(fd, host, cfg->server.port, deadline);
	if (status != 200) {
		fprintf(stderr, "detourd: probe: %s port %u: /health/live answered %s%d\n", host, cfg->server.port,
			status == 0 ? "nothing, status " : "", status);
		goto fail;
	}
	printf("detourd: probe: %s port %u: alive\n", host, cfg->server.port);
	rc = 0;
fail:
	if (fd >= 0)
		close(fd);
	config_free(cfg);
	return rc;
}
