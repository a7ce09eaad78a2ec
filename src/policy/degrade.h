/* degrade.h — graceful degradation: the levels a request cascades through, and the daemon-wide floor an operator can pin. */
#ifndef DETOUR_DEGRADE_H
#define DETOUR_DEGRADE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "request.h"

/* A request answered below full this recently still makes /health say degraded. */
#define DEGRADE_RECENT_MS 60000

/* The shared part: written by any worker and the admin API, read by /health. */
struct degrade {
	atomic_int mode;                        /* enum config_level: AUTO, or a pinned floor */
	atomic_uint_fast64_t last_degraded_ms;  /* monotonic ms of the last answer below full; 0: never */
	atomic_int last_level;                  /* that answer's level */
};

void degrade_init(struct degrade *d, enum config_level mode);
enum config_level degrade_mode(struct degrade *d);
void degrade_set_mode(struct degrade *d, enum config_level mode);

/* Notes an answer given at level (below full ones are remembered for /health). */
void degrade_note_answer(struct degrade *d, enum config_level level, uint64_t now);

/* The level answered below full most recently, if within DEGRADE_RECENT_MS of now;
 * else CONFIG_LEVEL_FULL. */
enum config_level degrade_recent_level(struct degrade *d, uint64_t now);

/* --- the cascade: pure functions ------------------------------------------ */

/* Where a request starts: full under auto, else the pinned level. */
enum config_level degrade_first_level(enum config_level mode);

/*
 * The level after level, or CONFIG_LEVEL_AUTO when there is none: full, then
 * reduced, minimal, cached (only when cache_on) and offline (only when
 * offline_on). Under mode "full" nothing follows full: degradation is off.
 */
enum config_level degrade_next_level(enum config_level mode, enum config_level level, bool cache_on,
				     bool offline_on);

/* True for the levels where upstreams are called. */
bool degrade_calls_upstreams(enum config_level level);

/* The targets of route at level: its own at full, its reduced ones (when it has
 * any, else its own) at reduced and minimal. */
const struct config_target *degrade_targets(const struct config_route *route, enum config_level level, size_t *n);

/* What level changes in a request sent to target: the target's model, the
 * smaller of the target's and the level's max_tokens caps, the level's drops. */
void degrade_changes(const struct config *cfg, enum config_level level, const struct config_target *target,
		     struct request_changes *out);

/* Parses a level name (auto, full, reduced, minimal, cached, offline). Returns 0 or -1. */
int degrade_parse_level(const char *name, enum config_level *level);

#endif
