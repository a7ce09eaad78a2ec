/* fuzz_httpframe.c — any header lines and any path: a verdict that is a sentence or NULL, a path unescaped without making '/', NUL or control bytes, a log line read as a refusal or not. */
#include "fuzz.h"

#include "httpframe.h"

/* Counts the bytes of s (len) equal to c. */
static size_t fuzz_count(const char *s, size_t len, char c)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == c;
	return n;
}

static void fuzz_headers(const char *text, size_t len, bool http11)
{
	struct httpframe f;
	const char *verdict;
	size_t at = 0;

	httpframe_init(&f);
	/* One header a line, "name:value" split at the first colon, as libmicrohttpd splits them. */
	while (at < len) {
		const char *line = text + at, *nl = memchr(line, '\n', len - at), *colon;
		size_t n = nl != NULL ? (size_t)(nl - line) : len - at;

		colon = memchr(line, ':', n);
		if (colon != NULL) {
			const char *value = colon + 1;
			size_t vlen = n - (size_t)(value - line);

			while (vlen > 0 && (*value == ' ' || *value == '\t')) {
				value++;
				vlen--;
			}
			httpframe_header(&f, line, (size_t)(colon - line), value, vlen);
		}
		at += n + 1;
	}
	verdict = httpframe_verdict(&f, http11);
	FUZZ_REQUIRE(verdict == NULL || (verdict[0] != '\0' && strlen(verdict) < 200));
	FUZZ_REQUIRE(verdict == httpframe_verdict(&f, http11));
	if (f.error != NULL)
		FUZZ_REQUIRE(verdict != NULL);
}

static void fuzz_path(const char *bytes, size_t len)
{
	char *path = fuzz_strndup(bytes, len);
	size_t in_len = strlen(path), out_len;

	out_len = httpframe_unescape(path);
	FUZZ_REQUIRE(out_len == strlen(path) && out_len <= in_len);
	/* Escapes of '/' stay escapes: the unescaped path has no more slashes than were written. */
	FUZZ_REQUIRE(fuzz_count(path, out_len, '/') == fuzz_count(bytes, in_len, '/'));
	for (size_t i = 0; i < out_len; i++)
		FUZZ_REQUIRE((unsigned char)path[i] >= 0x20 || memchr(bytes, path[i], in_len) != NULL);
	free(path);
}

static void fuzz_refusal(const char *bytes, size_t len)
{
	char *line = fuzz_strndup(bytes, len), why[16];
	unsigned status = 0;

	if (httpframe_refusal(line, &status, why, sizeof why))
		FUZZ_REQUIRE(status >= 400 && status <= 599 && strlen(why) < sizeof why);
	else
		FUZZ_REQUIRE(why[0] == '\0');
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	bool http11 = fuzz_byte(&in) & 1;

	fuzz_headers((const char *)in.p, in.left, http11);
	fuzz_path((const char *)in.p, in.left);
	fuzz_refusal((const char *)in.p, in.left);
	return 0;
}
