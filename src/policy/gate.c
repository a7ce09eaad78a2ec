/* gate.c — whether a worker's front door is shut: libmicrohttpd's pause at its connection limit or out of descriptors, and the rate-limited warning about it. */
#include "gate.h"

#include <string.h>

void gate_init(struct gate *g)
{
	memset(g, 0, sizeof *g);
}

void gate_note_out_of_fds(struct gate *g)
{
	g->out_of_fds = true;
}

bool gate_after_run(struct gate *g, unsigned before, unsigned after, unsigned limit, bool *newly_shut)
{
	/* Room was freed while shut: libmicrohttpd re-arms only at the start of a run. */
	bool again = g->shut && after < before;
	bool shut_now = after >= limit || g->out_of_fds;

	*newly_shut = shut_now && !g->shut;
	if (shut_now)
		g->at_limit = !g->out_of_fds;
	/* While nothing closed, a shut door stays shut (at_limit outlives the run). */
	g->shut = shut_now || (g->shut && !again);
	g->out_of_fds = false;
	return again;
}

bool gate_warn_due(struct gate *g, uint64_t now, unsigned *times)
{
	g->unwarned++;
	if (g->warned_ms != 0 && now - g->warned_ms < GATE_WARN_EVERY_MS)
		return false;
	*times = g->unwarned;
	g->unwarned = 0;
	g->warned_ms = now == 0 ? 1 : now;
	return true;
}
