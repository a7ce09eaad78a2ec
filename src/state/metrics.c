/* metrics.c — counters each worker keeps for itself, summed into Prometheus text on scrape. */
#include "metrics.h"

#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "clock.h"
#include "upstream.h"

static const uint64_t metrics_bounds_ms[METRICS_BUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000, 600000, UINT64_MAX
};

static const char *const metrics_endpoint_names[METRICS_ENDPOINTS] = {
	"chat", "completions", "embeddings", "responses", "other"
};

static const char *const metrics_attempt_names[METRICS_ATTEMPTS] = {
	"success", "fall_over", "pass_through", "give_up", "skipped"
};

/* Where route r's continuations from upstream f to upstream t, result ok (0) or failed (1), are counted. */
static size_t metrics_continuation_at(size_t nupstreams, size_t r, size_t f, size_t t, unsigned result)
{
	return ((r * nupstreams + f) * nupstreams + t) * 2 + result;
}

int metrics_init(struct metrics *m, size_t nupstreams, size_t nroutes)
{
	memset(m, 0, sizeof *m);
	m->nupstreams = nupstreams;
	m->nroutes = nroutes;
	m->attempts = calloc(nupstreams * METRICS_ATTEMPTS + 1, sizeof *m->attempts);
	m->up = calloc(nupstreams + 1, sizeof *m->up);
	m->models = calloc((nupstreams + 1) * METRICS_MODEL_SLOTS, sizeof *m->models);
	/* Route and upstream names come from the configuration: the label sets are as finite as the file. */
	m->continuations = calloc(metrics_continuation_at(nupstreams, nroutes, 0, 0, 0) + 1, sizeof *m->continuations);
	return m->attempts == NULL || m->up == NULL || m->models == NULL || m->continuations == NULL ? -1 : 0;
}

void metrics_free(struct metrics *m)
{
	free(m->attempts);
	free(m->up);
	free(m->models);
	free(m->continuations);
	free(m->models_handed);
	m->attempts = NULL;
	m->up = NULL;
	m->models = NULL;
	m->continuations = NULL;
	m->models_handed = NULL;
	m->models_handed_sets = 0;
}

/* FNV-1a: spreads model names over an upstream's slots. */
static uint32_t metrics_model_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

/* True for a name a label may carry as it is: printable ASCII, not too long,
 * not the overflow's own name. */
static bool metrics_model_named(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e || i + 1 >= METRICS_MODEL_NAME)
			return false;
	return i > 0 && strcmp(name, "other") != 0;
}

/* Upstream u's slot for name in m: found, or taken now (m's owner is the only
 * writer); the "other" slot once every slot is taken. */
static struct metrics_model *metrics_model_slot(struct metrics *m, size_t u, const char *name)
{
	struct metrics_model *slots = &m->models[u * METRICS_MODEL_SLOTS], *s;
	uint32_t hash;
	size_t i;

	if (name == NULL || !metrics_model_named(name))
		return &slots[METRICS_MODELS];
	hash = metrics_model_hash(name);
	/* Open addressing: a slot is never given back, so a probe stops at the first free one. */
	for (i = 0; i < METRICS_MODELS; i++) {
		s = &slots[(hash + i) % METRICS_MODELS];
		if (!atomic_load_explicit(&s->taken, memory_order_relaxed)) {
			s->hash = hash;
			snprintf(s->name, sizeof s->name, "%s", name);
			atomic_store_explicit(&s->taken, true, memory_order_release);
			return s;
		}
		if (s->hash == hash && strcmp(s->name, name) == 0)
			return s;
	}
	return &slots[METRICS_MODELS];
}

void metrics_tokens(struct metrics *m, size_t u, const char *model, uint64_t prompt, uint64_t completion,
		    uint64_t cached)
{
	struct metrics_model *s;

	if (u >= m->nupstreams)
		return;
	s = metrics_model_slot(m, u, model);
	metrics_add(&s->tokens[METRICS_TOKENS_PROMPT], prompt);
	metrics_add(&s->tokens[METRICS_TOKENS_COMPLETION], completion);
	metrics_add(&s->tokens[METRICS_TOKENS_CACHED], cached);
}

void metrics_continuation(struct metrics *m, size_t route, size_t from, size_t to, bool ok)
{
	if (route < m->nroutes && from < m->nupstreams && to < m->nupstreams)
		metrics_add(&m->continuations[metrics_continuation_at(m->nupstreams, route, from, to, ok ? 0 : 1)], 1);
}

static size_t metrics_bucket_of(uint64_t ms)
{
	size_t b = 0;

	while (ms > metrics_bounds_ms[b])
		b++;
	return b;
}

void metrics_attempt_time(struct metrics *m, size_t u, uint64_t ms, int64_t ttfb_ms)
{
	if (u >= m->nupstreams)
		return;
	metrics_add(&m->up[u].attempt_buckets[metrics_bucket_of(ms)], 1);
	metrics_add(&m->up[u].attempt_ms_sum, ms);
	if (ttfb_ms >= 0) {
		metrics_add(&m->up[u].ttfb_buckets[metrics_bucket_of((uint64_t)ttfb_ms)], 1);
		metrics_add(&m->up[u].ttfb_ms_sum, (uint64_t)ttfb_ms);
	}
}

metrics_counter *metrics_upstream_counter(struct metrics *m, size_t u, size_t offset)
{
	return u < m->nupstreams ? (metrics_counter *)((char *)&m->up[u] + offset) : NULL;
}

/* Process-wide: written by the main thread, read by scrapes. */
static atomic_uint_fast64_t metrics_started_ms;
static atomic_uint_fast64_t metrics_reloads[2]; /* refused, ok */
static atomic_uint_fast64_t metrics_last_reload_ms;

void metrics_note_start(uint64_t wall_ms)
{
	atomic_store(&metrics_started_ms, wall_ms);
}

void metrics_note_reload(int ok, uint64_t wall_ms)
{
	atomic_fetch_add(&metrics_reloads[ok ? 1 : 0], 1);
	atomic_store(&metrics_last_reload_ms, wall_ms);
}

void metrics_request(struct metrics *m, enum metrics_endpoint ep, unsigned status, uint64_t ms)
{
	if (status >= 600)
		status = 0;
	metrics_add(&m->requests[ep][status], 1);
	metrics_add(&m->duration_buckets[ep][metrics_bucket_of(ms)], 1);
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

/* One upstream's counter at offset (in struct metrics_upstream), summed over the sets. */
static uint64_t metrics_upstream_sum(const struct metrics_scrape *sc, size_t u, size_t offset)
{
	uint64_t sum = 0;
	unsigned w;

	for (w = 0; w < sc->nsets; w++)
		sum += metrics_read((const metrics_counter *)((const char *)&metrics_of(sc, w)->up[u] + offset));
	return sum;
}

/* A histogram in seconds of each upstream's buckets at offset, with its _sum at sum_offset (ms). */
static int metrics_render_upstream_histogram(const struct metrics_scrape *sc, struct buf *out, const char *name,
					     const char *help, size_t offset, size_t sum_offset)
{
	size_t u, b;
	int rc = 0;

	rc |= buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (u = 0; u < sc->cfg->nupstreams; u++) {
		const char *up = sc->cfg->upstreams[u].name;
		uint64_t cumulative = 0;

		for (b = 0; b < METRICS_BUCKETS; b++) {
			cumulative += metrics_upstream_sum(sc, u, offset + b * sizeof(metrics_counter));
			if (metrics_bounds_ms[b] == UINT64_MAX)
				rc |= buf_printf(out, "%s_bucket{upstream=\"%s\",le=\"+Inf\"} %llu\n", name, up,
						 (unsigned long long)cumulative);
			else
				rc |= buf_printf(out, "%s_bucket{upstream=\"%s\",le=\"%g\"} %llu\n", name, up,
						 (double)metrics_bounds_ms[b] / 1000.0, (unsigned long long)cumulative);
		}
		rc |= buf_printf(out, "%s_sum{upstream=\"%s\"} %.3f\n", name, up,
				 (double)metrics_upstream_sum(sc, u, sum_offset) / 1000.0);
		rc |= buf_printf(out, "%s_count{upstream=\"%s\"} %llu\n", name, up, (unsigned long long)cumulative);
	}
	return rc;
}

/* A counter of each upstream at offset, with extra labels written before "upstream" ("" for none). */
static int metrics_render_upstream_counter(const struct metrics_scrape *sc, struct buf *out, const char *name,
					   const char *labels, size_t offset)
{
	size_t u;
	int rc = 0;

	for (u = 0; u < sc->cfg->nupstreams; u++)
		rc |= buf_printf(out, "%s{%supstream=\"%s\"} %llu\n", name, labels, sc->cfg->upstreams[u].name,
				 (unsigned long long)metrics_upstream_sum(sc, u, offset));
	return rc;
}

/* One model's tokens on one upstream, summed over the sets that have it. */
struct metrics_model_sum {
	const char *name;
	uint64_t tokens[METRICS_TOKEN_KINDS];
};

static int metrics_model_sum_cmp(const void *a, const void *b)
{
	return strcmp(((const struct metrics_model_sum *)a)->name, ((const struct metrics_model_sum *)b)->name);
}

/* Upstream u's models over the sets into sums (room for every slot of every
 * set), sorted by name, one entry a model. Returns how many. */
static size_t metrics_model_sums(const struct metrics_scrape *sc, size_t u, struct metrics_model_sum *sums)
{
	size_t n = 0, merged = 0, s, k;
	unsigned w;

	for (w = 0; w < sc->nsets; w++) {
		const struct metrics_model *slots = &metrics_of(sc, w)->models[u * METRICS_MODEL_SLOTS];

		for (s = 0; s < METRICS_MODEL_SLOTS; s++) {
			if (s < METRICS_MODELS && !atomic_load_explicit(&slots[s].taken, memory_order_acquire))
				continue;
			sums[n].name = s < METRICS_MODELS ? slots[s].name : "other";
			for (k = 0; k < METRICS_TOKEN_KINDS; k++)
				sums[n].tokens[k] = metrics_read(&slots[s].tokens[k]);
			n++;
		}
	}
	qsort(sums, n, sizeof *sums, metrics_model_sum_cmp);
	for (s = 0; s < n; s++) {
		if (merged > 0 && strcmp(sums[merged - 1].name, sums[s].name) == 0) {
			for (k = 0; k < METRICS_TOKEN_KINDS; k++)
				sums[merged - 1].tokens[k] += sums[s].tokens[k];
		} else {
			sums[merged++] = sums[s];
		}
	}
	return merged;
}

/* A label value as the text format wants it: backslash and quote escaped
 * (names with other bytes never take a slot). */
static int metrics_append_label(struct buf *out, const char *value)
{
	int rc = 0;

	for (; *value != '\0'; value++) {
		if (*value == '\\' || *value == '"')
			rc |= buf_append(out, "\\", 1);
		rc |= buf_append(out, value, 1);
	}
	return rc;
}

static int metrics_render_tokens(const struct metrics_scrape *sc, struct buf *out)
{
	static const char *const kinds[METRICS_TOKEN_KINDS] = { "prompt", "completion", "cached" };
	struct metrics_model_sum *sums = calloc(sc->nsets * METRICS_MODEL_SLOTS + 1, sizeof *sums);
	size_t u, n, i, k;
	int rc = 0;

	if (sums == NULL)
		return -1;
	rc |= buf_append_str(out, "# HELP detour_tokens_total Tokens the answers' usage reported, by upstream, "
				  "the model it was asked for, and kind.\n"
				  "# TYPE detour_tokens_total counter\n");
	for (u = 0; u < sc->cfg->nupstreams; u++) {
		n = metrics_model_sums(sc, u, sums);
		for (i = 0; i < n; i++) {
			/* The overflow slot shows only once something landed in it. */
			if (strcmp(sums[i].name, "other") == 0 && sums[i].tokens[0] + sums[i].tokens[1] +
									  sums[i].tokens[2] == 0)
				continue;
			for (k = 0; k < METRICS_TOKEN_KINDS; k++) {
				rc |= buf_printf(out, "detour_tokens_total{kind=\"%s\",upstream=\"%s\",model=\"", kinds[k],
						 sc->cfg->upstreams[u].name);
				rc |= metrics_append_label(out, sums[i].name);
				rc |= buf_printf(out, "\"} %llu\n", (unsigned long long)sums[i].tokens[k]);
			}
		}
	}
	free(sums);
	return rc;
}

static int metrics_render_upstreams(const struct metrics_scrape *sc, struct buf *out)
{
	int rc = 0;

	rc |= metrics_render_upstream_histogram(sc, out, "detour_upstream_attempt_duration_seconds",
						"A call to an upstream, from submission to its end.",
						offsetof(struct metrics_upstream, attempt_buckets),
						offsetof(struct metrics_upstream, attempt_ms_sum));
	rc |= metrics_render_upstream_histogram(sc, out, "detour_upstream_ttfb_seconds",
						"A call to an upstream, from submission to the first response byte.",
						offsetof(struct metrics_upstream, ttfb_buckets),
						offsetof(struct metrics_upstream, ttfb_ms_sum));
	rc |= buf_append_str(out, "# HELP detour_upstream_retries_total Calls made again to the same upstream.\n"
				  "# TYPE detour_upstream_retries_total counter\n");
	rc |= metrics_render_upstream_counter(sc, out, "detour_upstream_retries_total", "",
					      offsetof(struct metrics_upstream, retries));
	rc |= buf_append_str(out, "# HELP detour_health_checks_total Active health checks, by result.\n"
				  "# TYPE detour_health_checks_total counter\n");
	rc |= metrics_render_upstream_counter(sc, out, "detour_health_checks_total", "result=\"ok\",",
					      offsetof(struct metrics_upstream, health[0]));
	rc |= metrics_render_upstream_counter(sc, out, "detour_health_checks_total", "result=\"failed\",",
					      offsetof(struct metrics_upstream, health[1]));
	rc |= metrics_render_tokens(sc, out);
	return rc;
}

/* Route r's continuations from f to t with result (0 ok, 1 failed), summed over the sets. */
static uint64_t metrics_continuation_sum(const struct metrics_scrape *sc, size_t r, size_t f, size_t t, unsigned result)
{
	size_t at = metrics_continuation_at(sc->cfg->nupstreams, r, f, t, result);
	uint64_t sum = 0;
	unsigned w;

	for (w = 0; w < sc->nsets; w++)
		sum += metrics_read(&metrics_of(sc, w)->continuations[at]);
	return sum;
}

/* Only the pairs that ever continued: routes times upstreams squared would be mostly zeros. */
static int metrics_render_continuations(const struct metrics_scrape *sc, struct buf *out)
{
	static const char *const results[2] = { "ok", "failed" };
	const struct config *cfg = sc->cfg;
	size_t r, f, t;
	unsigned k;
	int rc = 0;

	rc |= buf_append_str(out, "# HELP detour_stream_continuations_total Cut streams continued on another upstream, "
				  "by result (ok: the continuation delivered its first delta).\n"
				  "# TYPE detour_stream_continuations_total counter\n");
	for (r = 0; r < cfg->nroutes; r++) {
		for (f = 0; f < cfg->nupstreams; f++) {
			for (t = 0; t < cfg->nupstreams; t++) {
				uint64_t n[2] = { metrics_continuation_sum(sc, r, f, t, 0),
						  metrics_continuation_sum(sc, r, f, t, 1) };

				if (n[0] + n[1] == 0)
					continue;
				for (k = 0; k < 2; k++)
					rc |= buf_printf(out, "detour_stream_continuations_total{route=\"%s\",from=\"%s\","
							      "to=\"%s\",result=\"%s\"} %llu\n", cfg->routes[r].name,
							 cfg->upstreams[f].name, cfg->upstreams[t].name, results[k],
							 (unsigned long long)n[k]);
			}
		}
	}
	return rc;
}

static int metrics_render_transitions(const struct metrics_scrape *sc, struct buf *out)
{
	static const enum breaker_state states[] = { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };
	size_t u, f, t;
	int rc = 0;

	rc |= buf_append_str(out, "# HELP detour_circuit_transitions_total Breaker moves, by from and to state.\n"
				  "# TYPE detour_circuit_transitions_total counter\n");
	for (u = 0; u < sc->cfg->nupstreams; u++)
		for (f = 0; f < 3; f++)
			for (t = 0; t < 3; t++)
				if (f != t)
					rc |= buf_printf(out, "detour_circuit_transitions_total{upstream=\"%s\",from=\"%s\","
							      "to=\"%s\"} %llu\n", sc->cfg->upstreams[u].name,
							 breaker_state_name(states[f]), breaker_state_name(states[t]),
							 (unsigned long long)upstream_transitions(&sc->upstreams[u], states[f],
												  states[t]));
	return rc;
}

/* One unlabelled sample, with its HELP and TYPE. */
static int metrics_render_one(struct buf *out, const char *name, const char *type, const char *help, double value)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
}

static int metrics_render_flow(const struct metrics_scrape *sc, struct buf *out)
{
	uint64_t opened = metrics_sum(sc, offsetof(struct metrics, streams_opened));
	uint64_t closed = metrics_sum(sc, offsetof(struct metrics, streams_closed));
	int rc = 0;

	rc |= metrics_render_one(out, "detour_requests_in_flight", "gauge", "Requests in the attempt loop now.",
				 (double)sc->in_flight);
	rc |= metrics_render_one(out, "detour_streams_open", "gauge", "Streams committed to their client and not over.",
				 (double)(opened > closed ? opened - closed : 0));
	rc |= metrics_render_one(out, "detour_retry_budget_refusals_total", "counter",
				 "Retries and stream continuations the retry budget refused.",
				 (double)metrics_sum(sc, offsetof(struct metrics, retry_refusals)));
	rc |= metrics_render_one(out, "detour_stream_cuts_total", "counter",
				 "Streams broken off upstream after the commit point.",
				 (double)metrics_sum(sc, offsetof(struct metrics, stream_cuts)));
	rc |= metrics_render_one(out, "detour_client_aborts_total", "counter",
				 "Clients that left before their answer was whole.",
				 (double)metrics_sum(sc, offsetof(struct metrics, client_aborts)));
	rc |= metrics_render_one(out, "detour_cache_bytes", "gauge", "Bytes the cached answers take.",
				 (double)(sc->cache != NULL ? cache_bytes(sc->cache) : 0));
	rc |= metrics_render_one(out, "detour_cache_evictions_total", "counter",
				 "Answers dropped from the cache to make room.",
				 (double)(sc->cache != NULL ? cache_evictions(sc->cache) : 0));
	return rc;
}

static int metrics_render_reloads(struct buf *out)
{
	int rc = 0;

	rc |= buf_append_str(out, "# HELP detour_reloads_total Configuration reloads, by result.\n"
				  "# TYPE detour_reloads_total counter\n");
	rc |= buf_printf(out, "detour_reloads_total{result=\"ok\"} %llu\n",
			 (unsigned long long)atomic_load(&metrics_reloads[1]));
	rc |= buf_printf(out, "detour_reloads_total{result=\"refused\"} %llu\n",
			 (unsigned long long)atomic_load(&metrics_reloads[0]));
	rc |= metrics_render_one(out, "detour_last_reload_timestamp_seconds", "gauge",
				 "When the last reload was decided (0: none yet).",
				 (double)atomic_load(&metrics_last_reload_ms) / 1000.0);
	rc |= buf_printf(out, "# HELP detour_build_info The running detourd.\n# TYPE detour_build_info gauge\n"
			      "detour_build_info{version=\"%s\"} 1\n", DETOUR_VERSION);
	return rc;
}

/* CPU seconds from /proc/self/stat (utime + stime); -1 when unreadable. */
static double metrics_cpu_seconds(void)
{
	char text[1024], *p;
	unsigned long long utime, stime;
	double result = -1;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	/* The command name may hold spaces: count fields from its closing parenthesis. */
	p = strrchr(text, ')');
	if (p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) == 2)
		result = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	return result;
}

static double metrics_resident_bytes(void)
{
	unsigned long long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	int got;

	if (f == NULL)
		return -1;
	got = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	return got == 2 ? (double)resident * (double)sysconf(_SC_PAGESIZE) : -1;
}

static double metrics_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	double n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/* The process_* metrics every Prometheus client library exports, read from /proc. */
static int metrics_render_process(struct buf *out)
{
	double cpu = metrics_cpu_seconds(), rss = metrics_resident_bytes(), fds = metrics_open_fds();
	int rc = 0;

	rc |= metrics_render_one(out, "process_start_time_seconds", "gauge",
				 "Start time of the process since the Unix epoch in seconds.",
				 (double)atomic_load(&metrics_started_ms) / 1000.0);
	if (cpu >= 0)
		rc |= metrics_render_one(out, "process_cpu_seconds_total", "counter",
					 "Total user and system CPU time spent in seconds.", cpu);
	if (rss >= 0)
		rc |= metrics_render_one(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
					 rss);
	if (fds >= 0)
		rc |= metrics_render_one(out, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
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
	rc |= metrics_render_upstreams(sc, out);
	rc |= metrics_render_transitions(sc, out);
	rc |= metrics_render_continuations(sc, out);
	rc |= metrics_render_flow(sc, out);
	rc |= metrics_render_reloads(out);
	rc |= metrics_render_process(out);
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

/* Upstream u's tokens by model (laid out for old) into upstream at of into,
 * matched by model name. What was handed is noted by (set, upstream, slot),
 * since each worker's set places its models in slots of its own. */
static void metrics_carry_models(struct metrics *into, size_t at, const struct metrics_scrape *old, size_t u,
				 struct metrics *handed_over)
{
	struct metrics_model *to;
	metrics_counter *handed;
	size_t s, k;
	unsigned w;

	for (w = 0; w < old->nsets; w++) {
		const struct metrics_model *slots = &metrics_of(old, w)->models[u * METRICS_MODEL_SLOTS];

		for (s = 0; s < METRICS_MODEL_SLOTS; s++) {
			if (s < METRICS_MODELS && !atomic_load_explicit(&slots[s].taken, memory_order_acquire))
				continue;
			to = metrics_model_slot(into, at, s < METRICS_MODELS ? slots[s].name : NULL);
			handed = &handed_over->models_handed[((w * old->cfg->nupstreams + u) * METRICS_MODEL_SLOTS + s) *
							     METRICS_TOKEN_KINDS];
			for (k = 0; k < METRICS_TOKEN_KINDS; k++)
				metrics_hand_over(&to->tokens[k], metrics_read(&slots[s].tokens[k]), &handed[k]);
		}
	}
}

/* The route of cfg named name, as an index; cfg->nroutes when the reload removed it. */
static size_t metrics_route_index(const struct config *cfg, const char *name)
{
	size_t r;

	for (r = 0; r < cfg->nroutes && strcmp(cfg->routes[r].name, name) != 0; r++)
		;
	return r;
}

/* Continuations are matched by route and upstream names; a pair the reload removed goes with it. */
static void metrics_carry_continuations(struct metrics *into, const struct config *cfg,
					const struct metrics_scrape *old, struct metrics *handed_over)
{
	const struct config_upstream *from, *to;
	size_t r, nr, f, t;
	unsigned k;

	for (r = 0; r < old->cfg->nroutes; r++) {
		nr = metrics_route_index(cfg, old->cfg->routes[r].name);
		if (nr >= cfg->nroutes || nr >= into->nroutes)
			continue;
		for (f = 0; f < old->cfg->nupstreams; f++) {
			from = config_find_upstream(cfg, old->cfg->upstreams[f].name);
			for (t = 0; from != NULL && from->index < into->nupstreams && t < old->cfg->nupstreams; t++) {
				to = config_find_upstream(cfg, old->cfg->upstreams[t].name);
				if (to == NULL || to->index >= into->nupstreams)
					continue;
				for (k = 0; k < 2; k++)
					metrics_hand_over(&into->continuations[metrics_continuation_at(
								  into->nupstreams, nr, from->index, to->index, k)],
							  metrics_continuation_sum(old, r, f, t, k),
							  &handed_over->continuations[metrics_continuation_at(
								  old->cfg->nupstreams, r, f, t, k)]);
			}
		}
	}
}

/* The ledger of model tokens handed over, made at the first carry (the old
 * runtime's set count is known only then). Returns false when out of memory. */
static bool metrics_models_ledger(struct metrics *handed_over, const struct metrics_scrape *old)
{
	if (handed_over->models_handed == NULL) {
		handed_over->models_handed = calloc(old->nsets * old->cfg->nupstreams * METRICS_MODEL_SLOTS *
							    METRICS_TOKEN_KINDS + 1, sizeof(metrics_counter));
		handed_over->models_handed_sets = old->nsets;
	}
	return handed_over->models_handed != NULL && handed_over->models_handed_sets == old->nsets;
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
		{ offsetof(struct metrics, retry_refusals), 1 },
		{ offsetof(struct metrics, stream_cuts), 1 },
		{ offsetof(struct metrics, client_aborts), 1 },
		{ offsetof(struct metrics, streams_opened), 1 },
		{ offsetof(struct metrics, streams_closed), 1 },
	};
	const struct config_upstream *now;
	size_t r, i, u, a, offset;
	unsigned w;
	bool models = metrics_models_ledger(handed_over, old);

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
		for (i = 0; i < METRICS_UPSTREAM_COUNTERS; i++) {
			offset = i * sizeof(metrics_counter);
			metrics_hand_over((metrics_counter *)((char *)&into->up[now->index] + offset),
					  metrics_upstream_sum(old, u, offset),
					  (metrics_counter *)((char *)&handed_over->up[u] + offset));
		}
		/* Out of memory for the ledger: the tokens by model stay behind rather than count twice. */
		if (models)
			metrics_carry_models(into, now->index, old, u, handed_over);
	}
	metrics_carry_continuations(into, cfg, old, handed_over);
}
