/* refusal.h — why a request cannot be said to an upstream: a whole sentence for the client and the parameter it names. */
#ifndef DETOUR_REFUSAL_H
#define DETOUR_REFUSAL_H

#include <stddef.h>

/*
 * A refusal is the client's mistake, not the upstream's: when no target of
 * the route can say the request, the client gets 400 invalid_request_error
 * with why as the message and param as OpenAI's "param" (the attempts list
 * shows why as the skip reason). Both are cut to fit.
 */
struct refusal {
	char why[240];   /* a whole sentence: ends with a full stop */
	char param[96];  /* the request's parameter at fault ("n", "messages[0].content[1]"); "": none */
};

/* Empties r: no reason, no parameter. */
void refusal_clear(struct refusal *r);

/* Fills why (printf-style) and makes it a whole sentence; param is left as it is. */
void refusal_why(struct refusal *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fills param (printf-style): the parameter the refusal is about. */
void refusal_param(struct refusal *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Makes the text in s (size bytes, NUL-terminated) a whole sentence in
 * place: trailing blanks and a trailing ':' or ',' go, and a full stop ends
 * it unless it already ends with '.', '!' or '?'. A text cut short by its
 * buffer loses its last character to the full stop. An empty text stays empty.
 */
void refusal_sentence(char *s, size_t size);

#endif
