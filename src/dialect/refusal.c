/* refusal.c — why a request cannot be said to an upstream: a whole sentence for the client and the parameter it names. */
#include "refusal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void refusal_clear(struct refusal *r)
{
	r->why[0] = '\0';
	r->param[0] = '\0';
}

void refusal_why(struct refusal *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof r->why, fmt, ap);
	va_end(ap);
	refusal_sentence(r->why, sizeof r->why);
}

void refusal_param(struct refusal *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->param, sizeof r->param, fmt, ap);
	va_end(ap);
}

void refusal_sentence(char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (size == 0)
		return;
	if (n == size)
		n = size - 1;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == ':' ||
			 s[n - 1] == ','))
		n--;
	s[n] = '\0';
	if (n == 0 || s[n - 1] == '.' || s[n - 1] == '!' || s[n - 1] == '?')
		return;
	/* No room for the full stop: it takes the last character's place. */
	if (n == size - 1)
		n--;
	s[n] = '.';
	s[n + 1] = '\0';
}
