/* invariant.h — DETOUR_ASSERT: the rules the code relies on, checked in debug builds and free in release ones. */
#ifndef DETOUR_INVARIANT_H
#define DETOUR_INVARIANT_H

/*
 * DETOUR_ASSERT(cond): with DETOUR_DEBUG defined (the SANITIZE=1 build), a
 * false cond prints file:line and the condition and aborts, so the sanitizer
 * run of every test suite checks the invariants (as curl's DEBUGASSERT and
 * haproxy's BUG_ON). Without it, cond is not evaluated: keep it free of side
 * effects. (Not named assert.h: the unit tests build with -Isrc, where that
 * name would stand in for the C library's.)
 */
#ifdef DETOUR_DEBUG
#include <stdio.h>
#include <stdlib.h>
#define DETOUR_ASSERT(cond)                                                                        \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)
#else
#define DETOUR_ASSERT(cond) ((void)0)
#endif

#endif
