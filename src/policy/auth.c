/* auth.c — who may call detour: client keys for /v1/..., the admin token for /admin/.... */
#include "auth.h"

#include <string.h>
#include <strings.h>

bool auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	/* Walk the longer side in full so the time says nothing of the content. */
	size_t n = alen > blen ? alen : blen, i;
	unsigned char diff = (unsigned char)(alen != blen);

	for (i = 0; i < n; i++) {
		unsigned char x = i < alen ? (unsigned char)a[i] : 0;
		unsigned char y = i < blen ? (unsigned char)b[i] : 0;

		diff |= (unsigned char)(x ^ y);
	}
	return diff == 0;
}

const char *auth_bearer(const char *authorization, size_t *len)
{
	const char *token;
	size_t n;

	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	token = authorization + 7;
	while (*token == ' ')
		token++;
	n = strlen(token);
	while (n > 0 && (token[n - 1] == ' ' || token[n - 1] == '\t'))
		n--;
	if (n == 0)
		return NULL;
	*len = n;
	return token;
}

bool auth_client_allowed(const struct config *cfg, const char *authorization)
{
	const char *token;
	size_t len = 0, i;
	bool allowed = false;

	if (cfg->auth.client_keys == NULL)
		return true;
	token = auth_bearer(authorization, &len);
	if (token == NULL)
		return false;
	/* Every key is compared, so the time does not tell which one matched. */
	for (i = 0; i < cfg->auth.nclient_keys; i++) {
		const char *key = cfg->auth.client_keys[i];

		allowed |= auth_equal(token, len, key, strlen(key));
	}
	return allowed;
}

bool auth_admin_allowed(const struct config *cfg, const char *authorization)
{
	const char *token;
	size_t len = 0;

	if (cfg->auth.admin_token == NULL)
		return false;
	token = auth_bearer(authorization, &len);
	return token != NULL &&
	       auth_equal(token, len, cfg->auth.admin_token, strlen(cfg->auth.admin_token));
}
