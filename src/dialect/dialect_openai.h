/* dialect_openai.h — OpenAI's chat completions API spoken to an upstream that speaks it too: bytes passed through, checked, never translated. */
#ifndef DETOUR_DIALECT_OPENAI_H
#define DETOUR_DIALECT_OPENAI_H

#include "dialect.h"

/*
 * Any OpenAI-compatible upstream: every request kind, at request_kind_path;
 * the key as a Bearer token; the client's body as it came unless the target
 * changes it (request_rewrite); a 2xx must be a JSON object; error bodies
 * pass as they are; stream chunks pass on (re-framed), an {"error": ...}
 * chunk or one that is not JSON ends the attempt, and the first chunk with
 * text, a refusal, a tool call or a finish is the commit point.
 */
extern const struct dialect dialect_openai;

#endif
