/* suites.h — every unit suite, one per src file; run together by tests/unit/main.c. */
#ifndef DETOUR_TEST_SUITES_H
#define DETOUR_TEST_SUITES_H

#include <check.h>

#define UNIT_SUITES(X) \
	X(units)       \
	X(config)      \
	X(config_schema) \
	X(breaker)     \
	X(sharedstate) \
	X(redis)       \
	X(backoff)     \
	X(router)      \
	X(attempts)    \
	X(outcome)     \
	X(request)     \
	X(timers)      \
	X(jsonscan)    \
	X(jsonwrite)   \
	X(buf)         \
	X(auth)        \
	X(engine)      \
	X(rng)         \
	X(cache)       \
	X(completion)  \
	X(degrade)     \
	X(sse)         \
	X(refusal)     \
	X(anthropic)   \
	X(proxy)       \
	X(loop)        \
	X(attempt_loop) \
	X(responses)   \
	X(responses_write) \
	X(convstore)   \
	X(gate)        \
	X(log)         \
	X(httpframe)   \
	X(headerpass)  \
	X(upstream)    \
	X(peers)       \
	X(stream)      \
	X(notify)      \
	X(generation)  \
	X(continuation) \
	X(seam)        \
	X(usage)       \
	X(metrics)

#define UNIT_DECLARE(name) Suite *name##_suite(void);
UNIT_SUITES(UNIT_DECLARE)
#undef UNIT_DECLARE

#endif
