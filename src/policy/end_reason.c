/* end_reason.c — why an exchange ended: one word on its access log line and one label of detour_request_ends_total. */
#include "end_reason.h"

static const char *const end_reason_names[END_REASONS] = {
	[END_NONE] = "none",
	[END_ANSWERED] = "answered",
	[END_DEGRADED] = "degraded",
	[END_CACHE_HIT] = "cache_hit",
	[END_PASSED_THROUGH] = "passed_through",
	[END_LOCAL] = "local",
	[END_REFUSED] = "refused",
	[END_ALL_FAILED] = "all_failed",
	[END_DEADLINE] = "deadline",
	[END_CLIENT_GONE] = "client_gone",
	[END_STREAM_CUT] = "stream_cut",
	[END_CONTINUED] = "continued",
	[END_SHUTDOWN] = "shutdown",
	[END_INTERNAL] = "internal",
};

const char *end_reason_name(enum end_reason r)
{
	return (unsigned)r < END_REASONS ? end_reason_names[r] : "none";
}
