/* httpframe.h — RFC 9112 framing checks on a request's head (pure), and the path as the client wrote it. */
#ifndef DETOUR_HTTPFRAME_H
#define DETOUR_HTTPFRAME_H

#include <stdbool.h>
#include <stddef.h>

/*
 * What the header lines of one request say about its framing, gathered one
 * header at a time. libmicrohttpd parses the head; these are the checks it
 * leaves to detour (Host included: MHD_OPTION_STRICT_FOR_CLIENT would answer
 * its own 400 with two status lines), made before the request is used.
 */
struct httpframe {
	const char *error;       /* the first problem found, a static sentence; NULL while none */
	bool has_length;
	unsigned long long length;
	bool has_coding;         /* a Transfer-Encoding header */
	unsigned hosts;
};

void httpframe_init(struct httpframe *f);

/*
 * Takes one header line as libmicrohttpd split it: the name is everything
 * before the first colon (white space before it included), the value has its
 * leading white space removed. Records the first problem: a name that is not
 * a token (RFC 9110 5.1: white space before the colon), a CR, LF, NUL or other
 * control byte in a value (a bare CR), two Content-Length values that differ
 * or one that is not a number, a transfer coding other than chunked.
 */
void httpframe_header(struct httpframe *f, const char *name, size_t name_len, const char *value, size_t value_len);

/*
 * After the last header: NULL when the head frames the request soundly, else
 * the reason (a static sentence for a 400). http11 is true for HTTP/1.1, which
 * needs exactly one Host; Content-Length together with Transfer-Encoding is
 * refused (RFC 9112 6.1: a request smuggling vector).
 */
const char *httpframe_verdict(const struct httpframe *f, bool http11);

/*
 * Percent-decodes the path s in place (NUL-terminated) except where the byte
 * would be '/', NUL, '%' or another control byte: those stay as the client
 * wrote them, so "/health%2flive" is not "/health/live" and
 * "/admin/circuits/oa%00x" does not end at "oa". Returns the new length.
 */
size_t httpframe_unescape(char *s);

/*
 * libmicrohttpd answers a head it cannot take (a line past its pool, a URI too
 * long, a syntax error, a Content-Length that is not a number) itself, before
 * any callback, and says so only in its log: "Error processing request (HTTP
 * response code is 431 ('<html><head><title>Request too big</title>...')).".
 * Given one such line, returns true with the status in *status and the page's
 * title (or "" when it has none) in why, cut to whylen - 1 bytes; false for
 * every other line.
 */
bool httpframe_refusal(const char *said, unsigned *status, char *why, size_t whylen);

#endif
