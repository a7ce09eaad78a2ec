/* auth.h — who may call detour: client keys for /v1/..., the admin token for /admin/.... */
#ifndef DETOUR_AUTH_H
#define DETOUR_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Compares in time that depends only on the lengths, never on where bytes differ. */
bool auth_equal(const char *a, size_t alen, const char *b, size_t blen);

/* The token of an "Authorization: Bearer TOKEN" header, or NULL. *len gets its length. */
const char *auth_bearer(const char *authorization, size_t *len);

/* True when client auth is off or authorization carries one of the client keys. */
bool auth_client_allowed(const struct config *cfg, const char *authorization);

/* True when authorization carries the admin token (false when none is configured). */
bool auth_admin_allowed(const struct config *cfg, const char *authorization);

#endif
