/* mock_responses.h — OpenAI's Responses API as the mock speaks it natively (POST /v1/responses in openai mode): a response object, or the real event sequence. */
#ifndef DETOUR_MOCK_RESPONSES_H
#define DETOUR_MOCK_RESPONSES_H

#include <jansson.h>

#include "mock_answer.h"

/* Answers a Responses request (a JSON object): the content as one message,
 * plain or as events (response.created, .in_progress, output_item.added,
 * content_part.added, one output_text.delta per piece, the .done events and
 * response.completed). The stream faults cut before a delta; the error
 * fault sends response.failed. */
void mock_responses_answer(struct mock_answer *a, const json_t *req, const struct mock_reply *r);

#endif
