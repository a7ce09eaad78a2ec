/* mock_socket.h — what the mock does to a client's socket besides HTTP: wait while watching for the client leaving, and reset. */
#ifndef DETOUR_MOCK_SOCKET_H
#define DETOUR_MOCK_SOCKET_H

enum mock_wait {
	MOCK_WAIT_ELAPSED,     /* the delay passed, the client is still there */
	MOCK_WAIT_PEER_GONE,   /* the client closed or reset the connection */
	MOCK_WAIT_STOPPING,    /* stop_fd became readable: the mock is shutting down */
};

/*
 * Sleeps ms milliseconds (ms < 0: until the client leaves or the mock stops)
 * in poll() on fd for POLLRDHUP and on stop_fd for POLLIN, so a client that
 * goes away ends the wait at once. Costs no CPU while waiting.
 * Known limit: a client that half-closes (shutdown SHUT_WR) and still reads
 * is taken for gone.
 */
enum mock_wait mock_socket_wait(int fd, int stop_fd, long long ms);

/*
 * Resets the connection: waits up to 200 ms for what was already written to be
 * acknowledged (an RST throws away unsent bytes), then sets SO_LINGER 0 and
 * disconnects the socket, which sends an RST at once. fd stays open and owned
 * by libmicrohttpd; its later writes fail and it closes it as usual.
 */
void mock_socket_reset(int fd);

#endif
