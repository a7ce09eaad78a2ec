/* dialect_responses.h — OpenAI's Responses API spoken natively to an upstream that serves it: the client's request forwarded, its answer and events passed through. */
#ifndef DETOUR_DIALECT_RESPONSES_H
#define DETOUR_DIALECT_RESPONSES_H

#include "dialect.h"

/*
 * For a Responses client on an upstream with `responses: native`: the body is
 * the client's Responses request (call->client, previous_response_id already
 * expanded by detour, so it is left out), with the target's model, the
 * level's max_tokens cap (max_output_tokens) and dropped features applied; a
 * 2xx answer must be a response object, and one whose status is "failed" is
 * the upstream's fault. Stream events are emitted as they came (their JSON);
 * an output delta (*.delta) is the commit point, response.completed or
 * response.incomplete ends the stream, and response.failed or an error event
 * is a failure (before the commit point it falls over).
 */
extern const struct dialect dialect_responses;

#endif
