/* admin.h — the operator's endpoints: /health, /health/live, /circuits, /metrics, /v1/models and /admin/.... */
#ifndef DETOUR_ADMIN_H
#define DETOUR_ADMIN_H

#include <stdbool.h>

#include "exchange.h"
#include "runtime.h"

/* The word /health answers with at now: "ok", "degraded" or "down". Safe from any thread. */
const char *admin_health_status(struct runtime *rt, uint64_t now);

/* Handles an operator endpoint once its headers are in. Returns true when it
 * answered; false when it needs the request body (admin_body follows). */
bool admin_begin(struct exchange *x);

/* True for the endpoints that read a body. */
bool admin_wants_body(enum exchange_endpoint ep);

/* Handles an /admin/... request whose body is complete. */
void admin_body(struct exchange *x);

#endif
