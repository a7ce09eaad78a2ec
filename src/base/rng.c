/* rng.c — a fast per-thread random generator (xoshiro256**) for jitter, weights and request ids. Not for secrets. */
#include "rng.h"

#include <sys/random.h>
#include <time.h>

static uint64_t rng_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void rng_seed_with(struct rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = rng_splitmix(&seed);
}

void rng_seed(struct rng *r)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
		seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)r;
	rng_seed_with(r, seed);
}

static uint64_t rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rng_rotl(s[3], 45);
	return result;
}

uint64_t rng_below(struct rng *r, uint64_t bound)
{
	/* Lemire's multiply-shift; the bias is below 2^-32 for the bounds used here. */
	return bound == 0 ? 0 : (uint64_t)(((unsigned __int128)rng_next(r) * bound) >> 64);
}

void rng_hex(struct rng *r, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t bits = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (i % 16 == 0)
			bits = rng_next(r);
		out[i] = hex[bits & 0xf];
		bits >>= 4;
	}
	out[n] = '\0';
}
