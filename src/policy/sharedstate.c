/* sharedstate.c — what instances tell each other about a breaker, said as one line of text, and how a remote state merges into a local breaker; pure, the clock is the caller's. */
#include "sharedstate.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void sharedstate_describe(struct breaker *b, uint64_t now, const char *instance, const char *upstream,
			  bool operator_choice, struct sharedstate *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->instance, sizeof out->instance, "%s", instance);
	snprintf(out->upstream, sizeof out->upstream, "%s", upstream);
	out->operator_choice = operator_choice;
	out->state = breaker_state(b, now);
	out->mode = b->mode;
	if (out->state == BREAKER_OPEN && b->mode == BREAKER_AUTO && b->retry_at_ms > now)
		out->retry_in_ms = b->retry_at_ms - now;
	if (b->hold_until_ms > now)
		out->hold_in_ms = b->hold_until_ms - now;
	out->cooldown_ms = b->cooldown_ms;
}

/* A name goes on the line as one word: no space, no control byte. */
static bool sharedstate_word(const char *s)
{
	if (s[0] == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

int sharedstate_encode(const struct sharedstate *s, char *out, size_t outlen)
{
	int n;

	if (!sharedstate_word(s->instance) || !sharedstate_word(s->upstream))
		return -1;
	n = snprintf(out, outlen, "B %s %s %u %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %u", s->instance, s->upstream,
		     (unsigned)s->state, (unsigned)s->mode, s->retry_in_ms, s->hold_in_ms, s->cooldown_ms,
		     s->operator_choice ? 1u : 0u);
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int sharedstate_decode(const char *line, size_t len, struct sharedstate *out)
{
	char text[SHAREDSTATE_LINE_MAX];
	unsigned state, mode, op;
	int used = 0;

	if (len >= sizeof text || len < 2 || line[0] != 'B' || line[1] != ' ')
		return -1;
	memcpy(text, line, len);
	text[len] = '\0';
	memset(out, 0, sizeof *out);
	if (sscanf(text, "B %127s %127s %u %u %" SCNu64 " %" SCNu64 " %" SCNu64 " %u%n", out->instance, out->upstream,
		   &state, &mode, &out->retry_in_ms, &out->hold_in_ms, &out->cooldown_ms, &op, &used) != 8 ||
	    (size_t)used != len || state > BREAKER_HALF_OPEN || mode > BREAKER_FORCED_CLOSED || op > 1)
		return -1;
	out->state = (enum breaker_state)state;
	out->mode = (enum breaker_mode)mode;
	out->operator_choice = op == 1;
	return 0;
}

/* Remote cooldowns and waits are bounded by what this breaker could grow to itself. */
static uint64_t sharedstate_cap(const struct breaker *b, uint64_t v)
{
	uint64_t cap = b->cfg.cooldown_ms * BREAKER_MAX_COOLDOWNS;

	return v > cap ? cap : v;
}

static bool sharedstate_merge_open(struct breaker *b, const struct sharedstate *s, uint64_t now)
{
	uint64_t retry_at = now + sharedstate_cap(b, s->retry_in_ms);

	if (b->state == BREAKER_OPEN && b->retry_at_ms >= retry_at)
		return false;
	if (b->state != BREAKER_OPEN)
		b->opened_at_ms = now;
	b->state = BREAKER_OPEN;
	b->retry_at_ms = retry_at;
	if (s->cooldown_ms > b->cooldown_ms)
		b->cooldown_ms = sharedstate_cap(b, s->cooldown_ms);
	if (b->early_at_ms < now + BREAKER_EARLY_GAP_MS)
		b->early_at_ms = now + BREAKER_EARLY_GAP_MS;
	return true;
}

bool sharedstate_merge(struct breaker *b, const struct sharedstate *s, uint64_t now)
{
	bool changed = false;

	if (s->operator_choice) {
		if (b->mode == s->mode && s->mode != BREAKER_AUTO)
			return false;
		breaker_set_mode(b, s->mode, now);
		return true;
	}
	if (b->mode != BREAKER_AUTO || s->mode != BREAKER_AUTO)
		return false;
	if (s->hold_in_ms > 0 && b->hold_until_ms < now + sharedstate_cap(b, s->hold_in_ms)) {
		b->hold_until_ms = now + sharedstate_cap(b, s->hold_in_ms);
		changed = true;
	}
	switch (s->state) {
	case BREAKER_OPEN:
		changed = sharedstate_merge_open(b, s, now) || changed;
		break;
	case BREAKER_HALF_OPEN:
		if (b->state == BREAKER_OPEN && b->retry_at_ms > now) {
			b->retry_at_ms = now;
			changed = true;
		}
		break;
	case BREAKER_CLOSED:
		if (b->state != BREAKER_CLOSED) {
			b->state = BREAKER_CLOSED;
			b->cooldown_ms = b->cfg.cooldown_ms;
			b->nfailures = 0;
			b->head = 0;
			b->consecutive = 0;
			b->hold_until_ms = 0;
			changed = true;
		}
		break;
	}
	return changed;
}

uint64_t sharedstate_key_ttl(const struct sharedstate *s)
{
	uint64_t wait = s->retry_in_ms > s->hold_in_ms ? s->retry_in_ms : s->hold_in_ms;

	if (s->mode != BREAKER_AUTO)
		return 0;
	return wait + s->cooldown_ms + 1000;
}
