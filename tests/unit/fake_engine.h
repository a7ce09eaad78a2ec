/* fake_engine.h — the engine the attempt loop and the stream relay call in unit tests: each call is recorded, its answer is played by the test. */
#ifndef DETOUR_FAKE_ENGINE_H
#define DETOUR_FAKE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"

#define FAKE_CALLS 8

/* One call made through the fake engine; the transfer handed back is its slot's address. */
struct fake_call {
	char url[256];
	const struct engine_handlers *handlers;
	void *arg;
	bool cancelled;
	bool done;         /* the test played its end */
	bool paused;       /* on_data asked for a pause: the engine holds its data until unpaused */
	unsigned pauses;
	unsigned unpauses;
	/* The answer play_headers hands over: it lives as long as the call, as
	 * a real transfer's does (a stream keeps a pointer to it). */
	struct engine_response response;
};

extern struct fake_call fake_calls[FAKE_CALLS];
extern size_t fake_ncalls;
extern const struct engine_ops fake_engine;

/* Forgets every call (at each test's setup). */
void fake_engine_reset(void);

#endif
