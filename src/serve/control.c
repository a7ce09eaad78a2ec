/* control.c — a running detourd seen from the command line: its pid file, and `-s reload` waiting for the reload's verdict. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "config_load.h"
#include "notify.h"

#define CONTROL_VERDICT_MAX 1400 /* one datagram: "ok ..." or "refused ..." */

int control_pid_file_write(const char *path, pid_t pid, char *err, size_t errlen)
{
	char text[32];
	int fd, n, rc = -1;

	n = snprintf(text, sizeof text, "%ld\n", (long)pid);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write(fd, text, (size_t)n) != n) {
		snprintf(err, errlen, "server.pid_file %s: %s", path, strerror(errno));
		goto fail;
	}
	rc = 0;
fail:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The pid in path, or 0 (err filled). */
static pid_t control_pid_file_read(const char *path, char *err, size_t errlen)
{
	char text[32];
	char *end;
	long pid = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "server.pid_file %s: %s (is detourd running?)", path, strerror(errno));
		return 0;
	}
	n = read(fd, text, sizeof text - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	pid = strtol(text, &end, 10);
	if (pid <= 1 || (*end != '\n' && *end != '\0')) {
		snprintf(err, errlen, "server.pid_file %s holds no process id", path);
		return 0;
	}
	return (pid_t)pid;
}

void control_pid_file_remove(const char *path, pid_t pid)
{
	char err[256];

	if (control_pid_file_read(path, err, sizeof err) == pid)
		unlink(path);
}

void control_verdict_address(pid_t client, char *buf, size_t len)
{
	snprintf(buf, len, "@detourd-reload-%ld", (long)client);
}

void control_send_verdict(pid_t client, int reloaded, const char *why)
{
	char address[NOTIFY_ADDRESS_MAX], message[CONTROL_VERDICT_MAX];

	if (client <= 1 || client == getpid())
		return;
	control_verdict_address(client, address, sizeof address);
	snprintf(message, sizeof message, "%s %s", reloaded ? "ok" : "refused", why);
	/* ECONNREFUSED: nobody waits for it, which is fine. */
	(void)notify_send_to(address, message);
}

/* The daemon's pid: $MAINPID (systemd sets it for ExecReload=), else path's server.pid_file; 0 with err filled. */
static pid_t control_find_daemon(const char *path, char *err, size_t errlen)
{
	const char *mainpid = getenv("MAINPID");
	struct config *cfg = NULL;
	pid_t pid = 0;

	if (mainpid != NULL && mainpid[0] != '\0') {
		pid = (pid_t)atol(mainpid);
		if (pid <= 1)
			snprintf(err, errlen, "MAINPID=%s is not a process id", mainpid);
		return pid > 1 ? pid : 0;
	}
	if (config_load(path, &cfg, err, errlen) != 0)
		return 0;
	if (cfg->server.pid_file == NULL)
		snprintf(err, errlen, "%s sets no server.pid_file and $MAINPID is not set: cannot find the running detourd",
			 path);
	else
		pid = control_pid_file_read(cfg->server.pid_file, err, errlen);
	config_free(cfg);
	return pid;
}

/* A socket bound to this process's verdict address, passing the sender's credentials; -1 with err filled. */
static int control_listen(char *err, size_t errlen)
{
	struct sockaddr_un sa;
	char address[NOTIFY_ADDRESS_MAX];
	int fd, one = 1;
	size_t len;

	control_verdict_address(getpid(), address, sizeof address);
	len = strlen(address);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, address + 1, len - 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) != 0) {
		snprintf(err, errlen, "cannot listen for the verdict on %s: %s", address, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads one datagram into buf; returns the pid that sent it (0 when unknown), -1 on error. */
static pid_t control_receive(int fd, char *buf, size_t len)
{
	union {
		char space[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { buf, len - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
			      .msg_controllen = sizeof control.space };
	struct cmsghdr *c;
	pid_t sender = 0;
	ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);

	if (n < 0)
		return -1;
	buf[n] = '\0';
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cred;

			memcpy(&cred, CMSG_DATA(c), sizeof cred);
			sender = cred.pid;
		}
	}
	return sender;
}

/* Waits for the verdict of daemon; returns the exit status after printing it. */
static int control_await(int fd, pid_t daemon, unsigned timeout_ms)
{
	char buf[CONTROL_VERDICT_MAX + 1];
	uint64_t deadline = clock_now_ms() + timeout_ms;

	for (;;) {
		uint64_t now = clock_now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int ready;

		if (now >= deadline)
			break;
		ready = poll(&p, 1, (int)(deadline - now));
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			break;
		/* Only the daemon's own word counts: anyone may send to an abstract name. */
		if (control_receive(fd, buf, sizeof buf) != daemon)
			continue;
		if (strncmp(buf, "ok ", 3) == 0) {
			printf("detourd: %s\n", buf + 3);
			return 0;
		}
		fprintf(stderr, "detourd: %s\n", strncmp(buf, "refused ", 8) == 0 ? buf + 8 : buf);
		return 1;
	}
	fprintf(stderr, "detourd: process %ld gave no verdict on the reload within %u ms (see its log)\n",
		(long)daemon, timeout_ms);
	return 1;
}

int control_reload(const char *path, unsigned timeout_ms)
{
	char err[1024];
	pid_t daemon = control_find_daemon(path, err, sizeof err);
	int fd = -1, rc = 1;

	if (daemon == 0) {
		fprintf(stderr, "detourd: %s\n", err);
		goto fail;
	}
	if ((fd = control_listen(err, sizeof err)) < 0) {
		fprintf(stderr, "detourd: %s\n", err);
		goto fail;
	}
	if (kill(daemon, SIGHUP) != 0) {
		fprintf(stderr, "detourd: cannot signal process %ld: %s\n", (long)daemon, strerror(errno));
		goto fail;
	}
	rc = control_await(fd, daemon, timeout_ms);
fail:
	if (fd >= 0)
		close(fd);
	return rc;
}
