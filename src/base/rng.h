/* rng.h — a fast per-thread random generator (xoshiro256**) for jitter, weights and request ids. Not for secrets. */
#ifndef DETOUR_RNG_H
#define DETOUR_RNG_H

#include <stddef.h>
#include <stdint.h>

struct rng {
	uint64_t s[4];
};

/* Seeds from the kernel (getrandom); falls back to time and address. */
void rng_seed(struct rng *r);
/* Seeds deterministically, for tests. */
void rng_seed_with(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, bound); 0 when bound is 0. */
uint64_t rng_below(struct rng *r, uint64_t bound);
/* Writes n random lowercase hex digits and a NUL into out (n + 1 bytes). */
void rng_hex(struct rng *r, char *out, size_t n);

#endif
