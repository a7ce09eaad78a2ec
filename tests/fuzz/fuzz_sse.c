/* fuzz_sse.c — the SSE parser fed the same bytes whole and cut at chosen points: the same events, the same result. */
#include "fuzz.h"

#include "buf.h"
#include "sse.h"

#define FUZZ_SSE_MAX_CUTS 16

/* Each event appended as name, data and raw bytes, each with its length, so two runs compare as bytes. */
static int fuzz_sse_record(void *arg, const struct sse_event *ev)
{
	struct buf *log = arg;

	if (buf_printf(log, "%zu:", ev->name_len) != 0 || buf_append(log, ev->name, ev->name_len) != 0 ||
	    buf_printf(log, "|%zu:", ev->data_len) != 0 || buf_append(log, ev->data, ev->data_len) != 0 ||
	    buf_printf(log, "|%zu:", ev->raw_len) != 0 || buf_append(log, ev->raw, ev->raw_len) != 0)
		abort();
	FUZZ_REQUIRE(ev->data_len <= ev->raw_len);
	return 0;
}

static int fuzz_sse_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	size_t cuts[FUZZ_SSE_MAX_CUTS + 1], ncuts = fuzz_byte(&in) % (FUZZ_SSE_MAX_CUTS + 1), i, from = 0;
	struct sse_parser whole, pieces;
	struct buf a, b;
	int rc_whole, rc_pieces = SSE_OK;
	char *stream;

	for (i = 0; i < ncuts; i++)
		cuts[i] = fuzz_u16(&in);
	/* A copy of exactly the stream's bytes, so a read past a piece is caught. */
	stream = fuzz_strndup(in.p, in.left);
	for (i = 0; i < ncuts; i++)
		cuts[i] = in.left > 0 ? cuts[i] % (in.left + 1) : 0;
	qsort(cuts, ncuts, sizeof cuts[0], fuzz_sse_cmp);
	cuts[ncuts] = in.left;

	buf_init(&a, 1 << 24);
	buf_init(&b, 1 << 24);
	sse_init(&whole);
	sse_init(&pieces);
	rc_whole = sse_feed(&whole, stream, in.left, fuzz_sse_record, &a);
	for (i = 0; i <= ncuts && rc_pieces == SSE_OK; i++) {
		char *piece = fuzz_strndup(stream + from, cuts[i] - from);

		rc_pieces = sse_feed(&pieces, piece, cuts[i] - from, fuzz_sse_record, &b);
		free(piece);
		from = cuts[i];
	}
	FUZZ_REQUIRE(rc_whole == rc_pieces);
	FUZZ_REQUIRE(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
	FUZZ_REQUIRE(sse_partial(&whole) == sse_partial(&pieces));

	sse_reset(&pieces);
	FUZZ_REQUIRE(!sse_partial(&pieces));
	sse_free(&whole);
	sse_free(&pieces);
	buf_free(&a);
	buf_free(&b);
	free(stream);
	return 0;
}
