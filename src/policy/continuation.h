/* continuation.h — may a committed stream that broke off go on from the next target? The pure decision, apart from finding that target. */
#ifndef DETOUR_CONTINUATION_H
#define DETOUR_CONTINUATION_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* What the relay knows of a cut stream when it asks. */
struct continuation_case {
	struct config_streams streams; /* the route's, resolved (config_route_streams) */
	unsigned used;                 /* continuations that already delivered text */
	bool in_tool_call;             /* the cut came inside a tool call's arguments */
	bool text_whole;               /* the text delivered so far is all kept (not past the seam's cap) */
	unsigned choices;              /* the request's n (1 when absent) */
	bool chat_chunks;              /* the relay carries chat chunks (not the client API's own events) */
	uint64_t now_ms;
	uint64_t deadline_ms;          /* the request's */
};

/* The answer, and when no, why not. */
enum continuation_verdict {
	CONTINUATION_GO,        /* look for the next target */
	CONTINUATION_OFF,       /* on_cut is error */
	CONTINUATION_SPENT,     /* max_continuations used */
	CONTINUATION_TOOL_CALL, /* arguments cannot be taken back */
	CONTINUATION_CHOICES,   /* n > 1 */
	CONTINUATION_NOT_CHAT,  /* the upstream speaks the client's API itself */
	CONTINUATION_TOO_LONG,  /* the partial text is past what detour keeps */
	CONTINUATION_DEADLINE,  /* the request's deadline passed */
};

/* May this cut be continued? Checked in the order of the verdicts above. */
enum continuation_verdict continuation_decide(const struct continuation_case *c);

/* A word for logs: "go", "off", "spent", "tool_call", "choices", "not_chat", "too_long", "deadline". */
const char *continuation_verdict_name(enum continuation_verdict v);

#endif
