/* mock_openai.h — the OpenAI dialect: routes /v1 calls and writes chat, completion, embedding and model answers, plain or as SSE events. */
#ifndef DETOUR_MOCK_OPENAI_H
#define DETOUR_MOCK_OPENAI_H

#include "mock_answer.h"

/*
 * answer: POST /v1/chat/completions, /v1/completions, /v1/embeddings and
 * GET /v1/models, with Authorization: Bearer checked when r->api_key is set;
 * anything else is a 404 or 405. error: {"error":{"message","type","param","code"}}.
 * Pure: reads the call, writes the answer, no I/O.
 */
extern const struct mock_dialect mock_openai_dialect;

#endif
