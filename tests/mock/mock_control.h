/* mock_control.h — the control API under /_mock/: stats, the fault set, reset; never counted as requests, never faulted. */
#ifndef DETOUR_MOCK_CONTROL_H
#define DETOUR_MOCK_CONTROL_H

#include "mock_answer.h"
#include "mock_faults.h"
#include "mock_stats.h"

/* The path prefix that selects the control API. */
#define MOCK_CONTROL_PREFIX "/_mock/"

/*
 * Answers one control call into a (a fresh answer):
 *   GET  /_mock/stats   the counters and request log (mock_stats_json)
 *   GET  /_mock/faults  the fault set in force
 *   POST /_mock/faults  a JSON object replaces the whole fault set; answers the set now in force
 *   POST /_mock/reset   zeroes counters, log and last_request; faults stay
 * Errors are {"error":{"message":...}} with 400, 404 or 405.
 */
void mock_control_answer(struct mock_answer *a, const struct mock_call *call,
			 struct mock_stats *stats, struct mock_faults *faults);

#endif
