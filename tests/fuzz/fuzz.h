/* fuzz.h — what every libFuzzer target shares: the entry point's prototype, a broken-property abort, and byte takers. */
#ifndef DETOUR_FUZZ_H
#define DETOUR_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the harness checks did not hold: abort, so libFuzzer keeps the input as a crash. */
#define FUZZ_REQUIRE(cond)                                                                     \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                               \
		}                                                                              \
	} while (0)

/* The input as a reader takes it: a byte at a time from the front, the rest as a body. */
struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

/* The next byte, or 0 when none is left. */
static inline uint8_t fuzz_byte(struct fuzz_input *in)
{
	uint8_t b = 0;

	if (in->left > 0) {
		b = *in->p++;
		in->left--;
	}
	return b;
}

/* The next two bytes, little-endian, or what is left of them. */
static inline unsigned fuzz_u16(struct fuzz_input *in)
{
	unsigned lo = fuzz_byte(in);

	return lo | (unsigned)fuzz_byte(in) << 8;
}

/*
 * A fresh NUL-terminated copy of n bytes (freed with free), so a reader that
 * runs past n is caught by ASan rather than reading the fuzzer's other bytes.
 * Aborts when memory runs out: the harness cannot go on.
 */
static inline char *fuzz_strndup(const void *bytes, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	if (n > 0)
		memcpy(s, bytes, n);
	s[n] = '\0';
	return s;
}

#endif
