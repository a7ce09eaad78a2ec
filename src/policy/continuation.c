/* continuation.c — may a committed stream that broke off go on from the next target? The pure decision, apart from finding that target. */
#include "continuation.h"

enum continuation_verdict continuation_decide(const struct continuation_case *c)
{
	if (c->streams.on_cut != CONFIG_ON_CUT_CONTINUE)
		return CONTINUATION_OFF;
	if (c->used >= c->streams.max_continuations)
		return CONTINUATION_SPENT;
	if (c->in_tool_call)
		return CONTINUATION_TOOL_CALL;
	if (c->choices > 1)
		return CONTINUATION_CHOICES;
	if (!c->chat_chunks)
		return CONTINUATION_NOT_CHAT;
	if (!c->text_whole)
		return CONTINUATION_TOO_LONG;
	if (c->now_ms >= c->deadline_ms)
		return CONTINUATION_DEADLINE;
	return CONTINUATION_GO;
}

const char *continuation_verdict_name(enum continuation_verdict v)
{
	static const char *const names[] = { "go", "off", "spent", "tool_call", "choices", "not_chat", "too_long",
					     "deadline" };

	return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "unknown";
}
