/* dialect_anthropic.h — Anthropic's Messages API spoken to an upstream, on top of the pure translation in anthropic.h. */
#ifndef DETOUR_DIALECT_ANTHROPIC_H
#define DETOUR_DIALECT_ANTHROPIC_H

#include "dialect.h"

/*
 * Chat completions only, at /messages; the key as x-api-key with the
 * configured anthropic-version; requests, answers, errors and streams
 * translated by anthropic_request, anthropic_response, anthropic_error and
 * anthropic_stream_event. A request the translation cannot express (a part
 * type Anthropic has no form for, a message that is not an object, JSON
 * jansson cannot hold: a lone surrogate, \u0000, 1e400) is DIALECT_REFUSED,
 * with a reason naming it.
 */
extern const struct dialect dialect_anthropic;

#endif
