/* metrics.c — counters each worker keeps for itself, summed into Prometheus text on scrape. */
#include "metrics.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "clock.h"
#include "upstream.h"

static const uint64_t metrics_bounds_ms[METRICS_BUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, UINT64_MAX
};

static const char *const metrics_endpoint_names[METRICS_ENDPOINTS] = {
	"chat", "completions", "embeddings", "responses", "other"
};

static const char *const metrics_attempt_names[METRICS_ATTEMPTS] = {
	"success", "fall_over", "pass_through", "give_up", "skipped"
};

int metrics_init(struct metrics *m, size_t nupstreams)
{
	memset(m, 0, sizeof *m);
	m->nupstreams = nupstreams;
	m->attempts = calloc(nupstreams * METRICS_ATTEMPTS + 1, sizeof *m->attempts);
	return m->attempts == NULL ? -1 : 0;
}

void metrics_free(struct metrics *m)
{
	free(m->attempts);
	m->attempts = NULL;
}

void metrics_request(struct metrics *m, enum metrics_endpoint ep, unsigned status, uint64_t ms)
{
	size_t b = 0;

	if (status >= 600)
		status = 0;
	metrics_add(&m->requests[ep][status], 1);
	while (ms > metrics_bounds_ms[b])
		b++;
	metrics_add(&m->duration_buckets[ep][b], 1);
	metrics_add(&m->duration_ms_sum[ep], ms);
}

void metrics_attempt(struct metrics *m, size_t u, enum metrics_attempt what)
{
	if (u < m->nupstreams)
		metrics_add(&m->attempts[u * METRICS_ATTEMPTS + what], 1);
}

static uint64_t metrics_read(const metrics_counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Counter set w of a scrape: every sum runs over w < nsets. */
static const struct metrics *metrics_of(const struct metrics_scrape *sc, unsigned w)
{
	return &sc->sets[w];
}

static int metrics_render_requests(const struct metrics_scrape *sc, struct buf *out)
{
	unsigned ep, status, w;
	int rc = 0;

	rc |= buf_append_str(out, "# HELP detour_requests_total Requests answered, by endpoint and status.\n"
				  "# TYPE detour_requests_total counter\n");
	for (ep = 0; ep < METRICS_ENDPOINTS; ep++) {
		for (status = 0; status < 600; status++) {
			uint64_t sum = 0;

			for (w = 0; w < sc->nsets; w++)
				sum += metrics_read(&metrics_of(sc, w)->requests[ep][status]);
			if (sum > 0)
				rc |= buf_printf(out, "detour_requests_total{endpoint=\"%s\",code=\"%u\"} %llu\n",
						 metrics_endpoint_names[ep], status, (unsigned long long)sum);
		}
	}
	return rc;
}

static int metrics_render_durations(const struct metrics_scrape *sc, struct buf *out)
{
	unsigned ep, b, w;
	int rc = 0;

	rc |= buf_append_str(out, "# HELP detour_request_duration_seconds Time from request to answer.\n"
				  "# TYPE detour_request_duration_seconds histogram\n");
	for (ep = 0; ep < METRICS_ENDPOINTS; ep++) {
		uint64_t cumulative = 0, sum_ms = 0;

		for (w = 0; w < sc->nsets; w++)
			sum_ms += metrics_read(&metrics_of(sc, w)->duration_ms_sum[ep]);
		for (b = 0; b < METRICS_BUCKETS; b++) {
			for (w = 0; w < sc->nsets; w++)
				cumulative += metrics_read(&metrics_of(sc, w)->duration_buckets[ep][b]);
			if (metrics_bounds_ms[b] == UINT64_MAX)
				rc |= buf_printf(out, "detour_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
						 metrics_endpoint_names[ep], (unsigned long long)cumulative);
			else
				rc |= buf_printf(out, "detour_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
						 metrics_endpoint_names[ep], (double)metrics_bounds_ms[b] / 1000.0,
						 (unsigned long long)cumulative);
		}
		rc |= buf_printf(out, "detour_request_duration_seconds_sum{endpoint=\"%s\"} %.3f\n",
				 metrics_endpoint_names[ep], (double)sum_ms / 1000.0);
		rc |= buf_printf(out, "detour_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
				 metrics_endpoint_names[ep], (unsigned long long)cumulative);
	}
	return rc;
}

static int metrics_render_attempts(const struct metrics_scrape *sc, struct buf *out)
{
	size_t u;
	unsigned a, w;
	int rc = 0;

	rc |= buf_append_str(out, "# HELP detour_upstream_attempts_total Attempts on each upstream, by result.\n"
				  "# TYPE detour_upstream_attempts_total counter\n");
	for (u = 0; u < sc->cfg->nupstreams; u++) {
		for (a = 0; a < METRICS_ATTEMPTS; a++) {
			uint64_t sum = 0;

			for (w = 0; w < sc->nsets; w++)
				sum += metrics_read(&metrics_of(sc, w)->attempts[u * METRICS_ATTEMPTS + a]);
			rc |= buf_printf(out, "detour_upstream_attempts_total{upstream=\"%s\",result=\"%s\"} %llu\n",
					 sc->cfg->upstreams[u].name, metrics_attempt_names[a],
					 (unsigned long long)sum);
		}
	}
	return rc;
}

static uint64_t metrics_sum(const struct metrics_scrape *sc, size_t offset)
{
	uint64_t sum = 0;
	unsigned w;

	for (w = 0; w < sc->nsets; w++)
		sum += metrics_read((const metrics_counter *)((const char *)metrics_of(sc, w) + offset));
	return sum;
}

static int metrics_render_degradation(const struct metrics_scrape *sc, struct buf *out)
{
	static const enum config_level levels[] = { CONFIG_LEVEL_REDUCED, CONFIG_LEVEL_MINIMAL, CONFIG_LEVEL_CACHED,
						    CONFIG_LEVEL_OFFLINE };
	size_t i;
	int rc = 0;

	rc |= buf_append_str(out, "# HELP detour_degraded_answers_total Answers given below the full level.\n"
				  "# TYPE detour_degraded_answers_total counter\n");
	for (i = 0; i < sizeof levels / sizeof levels[0]; i++)
		rc |= buf_printf(out, "detour_degraded_answers_total{level=\"%s\"} %llu\n", config_level_name(levels[i]),
				 (unsigned long long)metrics_sum(sc, offsetof(struct metrics, degraded) +
								      (size_t)levels[i] * sizeof(metrics_counter)));
	rc |= buf_append_str(out, "# HELP detour_cache_lookups_total Cache lookups, by result.\n"
				  "# TYPE detour_cache_lookups_total counter\n");
	rc |= buf_printf(out, "detour_cache_lookups_total{result=\"hit\"} %llu\n",
			 (unsigned long long)metrics_sum(sc, offsetof(struct metrics, cache_hits)));
	rc |= buf_printf(out, "detour_cache_lookups_total{result=\"miss\"} %llu\n",
			 (unsigned long long)metrics_sum(sc, offsetof(struct metrics, cache_misses)));
	rc |= buf_append_str(out, "# HELP detour_cache_entries Answers held in the cache.\n"
				  "# TYPE detour_cache_entries gauge\n");
	rc |= buf_printf(out, "detour_cache_entries %zu\n", sc->cache != NULL ? cache_entries(sc->cache) : (size_t)0);
	return rc;
}

static int metrics_render_ends(const struct metrics_scrape *sc, struct buf *out)
{
	unsigned r;
	int rc = 0;

	rc |= buf_append_str(out, "# HELP detour_request_ends_total Requests finished, by why they ended.\n"
				  "# TYPE detour_request_ends_total counter\n");
	for (r = END_NONE + 1; r < END_REASONS; r++)
		rc |= buf_printf(out, "detour_request_ends_total{reason=\"%s\"} %llu\n", end_reason_name(r),
				 (unsigned long long)metrics_sum(sc, offsetof(struct metrics, ends) +
								      (size_t)r * sizeof(metrics_counter)));
	return rc;
}

static int metrics_render_circuits(const struct metrics_scrape *sc, struct buf *out)
{
	size_t u;
	int rc = 0;

	rc |= buf_append_str(out, "# HELP detour_circuit_state Breaker state: 0 closed, 1 half-open, 2 open.\n"
				  "# TYPE detour_circuit_state gauge\n");
	for (u = 0; u < sc->cfg->nupstreams; u++) {
		struct upstream_view v;
		int value;

		upstream_view(&sc->upstreams[u], clock_now_ms(), &v);
		value = v.state == BREAKER_CLOSED ? 0 : v.state == BREAKER_HALF_OPEN ? 1 : 2;
		rc |= buf_printf(out, "detour_circuit_state{upstream=\"%s\"} %d\n", sc->cfg->upstreams[u].name, value);
	}
	return rc;
}

int metrics_render(const struct metrics_scrape *sc, struct buf *out)
{
	int rc = 0;

	rc |= metrics_render_requests(sc, out);
	rc |= metrics_render_durations(sc, out);
	rc |= metrics_render_attempts(sc, out);
	rc |= metrics_render_degradation(sc, out);
	rc |= metrics_render_circuits(sc, out);
	rc |= metrics_render_ends(sc, out);
	return rc == 0 ? 0 : -1;
}

/* Adds to into what of total (one counter summed over a runtime) handed does
 * not say was given already, and notes it in handed. */
static void metrics_hand_over(metrics_counter *into, uint64_t total, metrics_counter *handed)
{
	uint64_t before = metrics_read(handed);

	if (total > before) {
		metrics_add(into, total - before);
		metrics_add(handed, total - before);
	}
}

void metrics_carry(struct metrics *into, const struct config *cfg, const struct metrics_scrape *old,
		   struct metrics *handed_over)
{
	/* The counters at fixed places, as runs of (first, count). */
	static const struct { size_t offset, count; } runs[] = {
		{ offsetof(struct metrics, requests), METRICS_ENDPOINTS * 600 },
		{ offsetof(struct metrics, duration_buckets), METRICS_ENDPOINTS * METRICS_BUCKETS },
		{ offsetof(struct metrics, duration_ms_sum), METRICS_ENDPOINTS },
		{ offsetof(struct metrics, degraded), CONFIG_LEVEL_OFFLINE + 1 },
		{ offsetof(struct metrics, cache_hits), 1 },
		{ offsetof(struct metrics, cache_misses), 1 },
		{ offsetof(struct metrics, ends), END_REASONS },
	};
	const struct config_upstream *now;
	size_t r, i, u, a, offset;
	unsigned w;

	for (r = 0; r < sizeof runs / sizeof runs[0]; r++) {
		for (i = 0; i < runs[r].count; i++) {
			offset = runs[r].offset + i * sizeof(metrics_counter);
			metrics_hand_over((metrics_counter *)((char *)into + offset), metrics_sum(old, offset),
					  (metrics_counter *)((char *)handed_over + offset));
		}
	}
	/* Upstreams are matched by name; the counts of one the reload removed go with it. */
	for (u = 0; u < old->cfg->nupstreams; u++) {
		now = config_find_upstream(cfg, old->cfg->upstreams[u].name);
		if (now == NULL || now->index >= into->nupstreams)
			continue;
		for (a = 0; a < METRICS_ATTEMPTS; a++) {
			uint64_t total = 0;

			for (w = 0; w < old->nsets; w++)
				total += metrics_read(&metrics_of(old, w)->attempts[u * METRICS_ATTEMPTS + a]);
			metrics_hand_over(&into->attempts[now->index * METRICS_ATTEMPTS + a], total,
					  &handed_over->attempts[u * METRICS_ATTEMPTS + a]);
		}
	}
}
