/* apierror.h — OpenAI's error object: the one shape every error detour sends takes, in a body or an SSE event. */
#ifndef DETOUR_APIERROR_H
#define DETOUR_APIERROR_H

#include "buf.h"

/*
 * Appends {"error":{"message":M,"type":T,"param":P,"code":C — param and code
 * null when NULL — and leaves the error object open, so a caller may add its
 * own members (attempts, upstream) before closing it with "}}". Returns 0, or
 * -1 when out is full (out may then hold part of it).
 */
int apierror_open(struct buf *out, const char *message, const char *type, const char *param, const char *code);

/* The same, closed: a whole error body. */
int apierror_json(struct buf *out, const char *message, const char *type, const char *param, const char *code);

#endif
