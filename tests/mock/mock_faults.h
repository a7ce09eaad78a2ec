/* mock_faults.h — the fault set in force: swapped whole at run time, handed to each request as a snapshot, counted down by `times`. */
#ifndef DETOUR_MOCK_FAULTS_H
#define DETOUR_MOCK_FAULTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "mock_fault_set.h"

/* The holder of the set in force; shared by every connection thread. */
struct mock_faults;

/* A holder publishing initial (its reference is taken), with the fail_rate RNG seeded by seed. NULL without memory. */
struct mock_faults *mock_faults_new(struct mock_fault_set *initial, uint64_t seed);

void mock_faults_free(struct mock_faults *faults);

/* Publishes set (its reference is taken) in place of the current one; `times` starts over. */
void mock_faults_replace(struct mock_faults *faults, struct mock_fault_set *set);

/*
 * The set for one new API request: a reference the caller releases, and in
 * *fail whether this request drew a fail_rate failure. Counts `times` down;
 * the request that uses the last one leaves an empty set in force.
 */
struct mock_fault_set *mock_faults_take(struct mock_faults *faults, bool *fail);

/* The set in force as a JSON object of its active keys, plus "remaining" while `times` counts down. New reference. */
json_t *mock_faults_json(struct mock_faults *faults);

#endif
