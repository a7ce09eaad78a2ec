/* httpframe.c — RFC 9112 framing checks on a request's head (pure), and the path as the client wrote it. */
#include "httpframe.h"

#include <string.h>
#include <strings.h>

void httpframe_init(struct httpframe *f)
{
	memset(f, 0, sizeof *f);
}

/* RFC 9110 5.6.2: tchar. */
static bool httpframe_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool httpframe_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

static void httpframe_fail(struct httpframe *f, const char *why)
{
	if (f->error == NULL)
		f->error = why;
}

/* One Content-Length value: digits only ("5, 5" lists are refused too). */
static void httpframe_length(struct httpframe *f, const char *value, size_t len)
{
	unsigned long long n = 0;
	size_t i;

	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (len == 0 || len > 19) {
		httpframe_fail(f, "The Content-Length header is not a number of bytes.");
		return;
	}
	for (i = 0; i < len; i++) {
		if (value[i] < '0' || value[i] > '9') {
			httpframe_fail(f, "The Content-Length header is not a number of bytes.");
			return;
		}
		n = n * 10 + (unsigned long long)(value[i] - '0');
	}
	if (f->has_length && f->length != n)
		httpframe_fail(f, "The request has two different Content-Length headers.");
	f->has_length = true;
	f->length = n;
}

/* Only "chunked" is a coding detour can frame a body with. */
static void httpframe_coding(struct httpframe *f, const char *value, size_t len)
{
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (f->has_coding || !httpframe_is(value, len, "chunked"))
		httpframe_fail(f, "Transfer-Encoding names a coding other than chunked.");
	f->has_coding = true;
}

void httpframe_header(struct httpframe *f, const char *name, size_t name_len, const char *value, size_t value_len)
{
	size_t i;

	if (name_len == 0)
		httpframe_fail(f, "A header line has no name.");
	for (i = 0; i < name_len; i++)
		if (!httpframe_tchar((unsigned char)name[i])) {
			httpframe_fail(f, "A header name holds white space or a character that is not allowed.");
			break;
		}
	for (i = 0; i < value_len; i++) {
		unsigned char c = (unsigned char)value[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			httpframe_fail(f, "A header value holds a CR, LF or other control character.");
			break;
		}
	}
	if (httpframe_is(name, name_len, "Content-Length"))
		httpframe_length(f, value, value_len);
	else if (httpframe_is(name, name_len, "Transfer-Encoding"))
		httpframe_coding(f, value, value_len);
	else if (httpframe_is(name, name_len, "Host"))
		f->hosts++;
}

const char *httpframe_verdict(const struct httpframe *f, bool http11)
{
	if (f->error != NULL)
		return f->error;
	if (f->has_length && f->has_coding)
		return "The request has both Content-Length and Transfer-Encoding.";
	if (http11 && f->hosts == 0)
		return "An HTTP/1.1 request needs a Host header.";
	if (f->hosts > 1)
		return "The request has more than one Host header.";
	return NULL;
}

static int httpframe_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t httpframe_unescape(char *s)
{
	size_t r = 0, w = 0;

	while (s[r] != '\0') {
		int hi = s[r] == '%' ? httpframe_hex(s[r + 1]) : -1;
		int lo = hi >= 0 ? httpframe_hex(s[r + 2]) : -1;
		unsigned char c = (unsigned char)(hi * 16 + lo);

		if (hi < 0 || lo < 0 || c == '/' || c == '%' || c < 0x20 || c == 0x7f) {
			s[w++] = s[r++];
			continue;
		}
		s[w++] = (char)c;
		r += 3;
	}
	s[w] = '\0';
	return w;
}

#define HTTPFRAME_REFUSAL "Error processing request (HTTP response code is "

/* The text between <title> and </title> in page, cut to whylen - 1 bytes ("" when none). */
static void httpframe_title(const char *page, char *why, size_t whylen)
{
	const char *title = strstr(page, "<title>");
	const char *end = title != NULL ? strstr(title, "</title>") : NULL;
	size_t len = 0;

	if (end != NULL) {
		title += sizeof "<title>" - 1;
		len = (size_t)(end - title);
		if (len > whylen - 1)
			len = whylen - 1;
		memcpy(why, title, len);
	}
	why[len] = '\0';
}

bool httpframe_refusal(const char *said, unsigned *status, char *why, size_t whylen)
{
	const char *p = "";
	unsigned code = 0;
	int digits = 0;
	bool refusal = false;

	if (strncmp(said, HTTPFRAME_REFUSAL, sizeof HTTPFRAME_REFUSAL - 1) == 0) {
		for (p = said + sizeof HTTPFRAME_REFUSAL - 1; *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
			code = code * 10 + (unsigned)(*p - '0');
		refusal = digits == 3 && !(*p >= '0' && *p <= '9') && code >= 400 && code <= 599;
	}
	if (refusal)
		*status = code;
	if (whylen > 0)
		httpframe_title(refusal ? p : "", why, whylen);
	return refusal;
}
