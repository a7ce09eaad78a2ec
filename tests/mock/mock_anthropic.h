/* mock_anthropic.h — the Anthropic dialect: POST /v1/messages validated as strictly as the real Messages API, answers plain or as SSE events. */
#ifndef DETOUR_MOCK_ANTHROPIC_H
#define DETOUR_MOCK_ANTHROPIC_H

#include "mock_answer.h"

/*
 * answer: POST /v1/messages (anthropic-version header required; x-api-key
 * checked when r->api_key is set) and GET /v1/models in Anthropic's list shape;
 * anything else is a 404 or 405. error: {"type":"error","error":{"type","message"}}
 * with the error type Anthropic uses for the status (529 overloaded_error, ...).
 * Pure: reads the call, writes the answer, no I/O.
 */
extern const struct mock_dialect mock_anthropic_dialect;

#endif
