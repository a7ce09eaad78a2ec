/* mock_faults.c — the fault set in force: swapped whole at run time, handed to each request as a snapshot, counted down by `times`. */
#include "mock_faults.h"

#include <pthread.h>
#include <stdlib.h>

struct mock_faults {
	pthread_mutex_t lock;        /* guards everything below; held for a few loads and stores per request */
	struct mock_fault_set *set;  /* one reference held here */
	struct mock_fault_set *none; /* the empty set `times` falls back to; one reference held here */
	long long remaining;         /* requests left while set->times > 0 */
	uint64_t rng;                /* splitmix64 state for fail_rate */
};

struct mock_faults *mock_faults_new(struct mock_fault_set *initial, uint64_t seed)
{
	struct mock_faults *faults = calloc(1, sizeof *faults);

	if (faults == NULL)
		goto fail;
	faults->none = mock_fault_set_new();
	if (faults->none == NULL || pthread_mutex_init(&faults->lock, NULL) != 0)
		goto fail;
	faults->set = initial;
	faults->remaining = initial->times;
	faults->rng = seed;
	return faults;
fail:
	if (faults != NULL)
		mock_fault_set_release(faults->none);
	free(faults);
	mock_fault_set_release(initial);
	return NULL;
}

void mock_faults_free(struct mock_faults *faults)
{
	if (faults == NULL)
		return;
	mock_fault_set_release(faults->set);
	mock_fault_set_release(faults->none);
	pthread_mutex_destroy(&faults->lock);
	free(faults);
}

void mock_faults_replace(struct mock_faults *faults, struct mock_fault_set *set)
{
	struct mock_fault_set *old;

	pthread_mutex_lock(&faults->lock);
	old = faults->set;
	faults->set = set;
	faults->remaining = set->times;
	pthread_mutex_unlock(&faults->lock);
	mock_fault_set_release(old);
}

/* splitmix64 as a double in [0, 1): reproducible for a given --seed, which is the point. */
static double mock_faults_draw(struct mock_faults *faults)
{
	uint64_t z = (faults->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

struct mock_fault_set *mock_faults_take(struct mock_faults *faults, bool *fail)
{
	struct mock_fault_set *set;
	struct mock_fault_set *spent = NULL;

	pthread_mutex_lock(&faults->lock);
	set = faults->set;
	atomic_fetch_add(&set->refs, 1);
	*fail = set->fail_rate > 0 && mock_faults_draw(faults) < set->fail_rate;
	if (set->times > 0 && --faults->remaining <= 0) {
		spent = set;
		faults->set = faults->none;
		atomic_fetch_add(&faults->none->refs, 1);
		faults->remaining = 0;
	}
	pthread_mutex_unlock(&faults->lock);
	mock_fault_set_release(spent);
	return set;
}

json_t *mock_faults_json(struct mock_faults *faults)
{
	json_t *out;

	pthread_mutex_lock(&faults->lock);
	out = mock_fault_set_json(faults->set);
	if (out != NULL && faults->set->times > 0)
		json_object_set_new(out, "remaining", json_integer(faults->remaining));
	pthread_mutex_unlock(&faults->lock);
	return out;
}
