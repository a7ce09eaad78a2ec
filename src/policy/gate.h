/* gate.h — whether a worker's front door is shut: libmicrohttpd's pause at its connection limit or out of descriptors, and the rate-limited warning about it. */
#ifndef DETOUR_GATE_H
#define DETOUR_GATE_H

#include <stdbool.h>
#include <stdint.h>

/* One warning at most this often per worker; the shuts between are counted in the next. */
#define GATE_WARN_EVERY_MS 10000

/*
 * libmicrohttpd 0.9.75 in external epoll mode takes its listening socket out
 * of its own epoll set when it reaches MHD_OPTION_CONNECTION_LIMIT or when
 * accept(2) fails with EMFILE/ENFILE (its at_limit flag), and puts it back
 * only at the START of a later MHD_run. The connections that free the room
 * are closed at the END of a run (timeouts, cleanup). When nothing else is
 * open, no event and no timeout ever calls MHD_run again: the backlog fills
 * and the worker never accepts again. The gate remembers that the door may be
 * shut and asks for one more run as soon as a run closed a connection.
 */
struct gate {
	bool shut;             /* libmicrohttpd may have taken its listening socket out */
	bool out_of_fds;       /* an accept failed for lack of descriptors during this run */
	bool at_limit;         /* the last shut was the connection limit (not descriptors) */
	uint64_t warned_ms;    /* when the last warning went out; 0 never */
	unsigned unwarned;     /* shuts since that warning */
};

void gate_init(struct gate *g);

/* libmicrohttpd said an accept failed for lack of descriptors (EMFILE, ENFILE). */
void gate_note_out_of_fds(struct gate *g);

/*
 * After one MHD_run: before and after are the open connections around it,
 * limit the MHD_OPTION_CONNECTION_LIMIT. Returns true when the server must run
 * again before the next wait, so libmicrohttpd re-arms its listening socket.
 * *newly_shut is set when the door shut during this run (a warning may be due).
 */
bool gate_after_run(struct gate *g, unsigned before, unsigned after, unsigned limit, bool *newly_shut);

/*
 * True when a warning about a shut door should be logged at now (then
 * *times gets how many shuts it covers); false while GATE_WARN_EVERY_MS has
 * not passed since the last one (the shut is counted for the next).
 */
bool gate_warn_due(struct gate *g, uint64_t now, unsigned *times);

#endif
