/* fuzz_seam.c — any chunks from two upstreams stitched into one stream, and any partial text put after any request: what goes out is JSON, the delivered text is bounded, a prefilled request is a JSON object ending with the partial. */
#include "fuzz.h"

#include <jansson.h>

#include "buf.h"
#include "jsonscan.h"
#include "prefill.h"
#include "seam.h"

/* The chunks are the input's lines; a line "--" switches to the next upstream. */
static void fuzz_seam(const char *text, size_t len)
{
	struct seam s;
	struct buf out;
	size_t at = 0, tlen;

	seam_init(&s);
	buf_init(&out, 1 << 20);
	while (at < len) {
		const char *line = text + at, *nl = memchr(line, '\n', len - at);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - at;

		if (n == 2 && memcmp(line, "--", 2) == 0) {
			seam_switch(&s);
		} else {
			buf_reset(&out);
			switch (seam_chunk(&s, line, n, &out)) {
			case SEAM_REWRITTEN:
				FUZZ_REQUIRE(jsonscan_valid_object(out.data, out.len));
				break;
			case SEAM_PASS:
			case SEAM_DROP:
			case SEAM_FAILED:
				break;
			}
		}
		at += n + 1;
	}
	(void)seam_text(&s, &tlen);
	FUZZ_REQUIRE(tlen <= SEAM_TEXT_MAX);
	buf_free(&out);
	seam_free(&s);
}

/* The input cut in two: a request body and the partial text to continue. */
static void fuzz_prefill(const char *text, size_t len, enum prefill_style style)
{
	size_t cut = len / 2, out_len = 0;
	char *body = prefill_chat_body(text, cut, text + cut, len - cut, style, &out_len);
	json_t *root;

	if (body == NULL)
		return;
	root = json_loadb(body, out_len, JSON_ALLOW_NUL, NULL);
	FUZZ_REQUIRE(json_is_object(root) && json_is_array(json_object_get(root, "messages")));
	json_decref(root);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t mode = fuzz_byte(&in);

	if (mode & 1)
		fuzz_prefill((const char *)in.p, in.left, (enum prefill_style)((mode >> 1) % 3));
	else
		fuzz_seam((const char *)in.p, in.left);
	return 0;
}
