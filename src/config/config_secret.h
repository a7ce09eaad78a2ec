/* config_secret.h — secrets for the configuration: keys and tokens from environment variables and files, trimmed, checked, wiped. */
#ifndef DETOUR_CONFIG_SECRET_H
#define DETOUR_CONFIG_SECRET_H

#include <stddef.h>

#include <yaml.h>

struct config_reader;
struct config_key;

/*
 * Reads the whole file at path into a NUL-terminated buffer of at most cap bytes,
 * in *out (free with free) and *outlen. Returns 0, or -1 with errno set (EFBIG past
 * cap). A grown buffer is wiped before it is freed: the file may hold a secret.
 */
int config_secret_slurp(const char *path, size_t cap, char **out, size_t *outlen);

/*
 * path as written, or joined to the configuration's directory when relative;
 * "credential:NAME" is the file NAME in $CREDENTIALS_DIRECTORY (systemd's
 * LoadCredential=). NULL after a message.
 */
char *config_secret_resolve(struct config_reader *r, const yaml_node_t *node, const char *path);

/*
 * Strips leading and trailing whitespace from the len bytes at s (room for len + 1), in place,
 * and zeroes what is left behind (s may be a secret); returns the new length.
 */
size_t config_secret_trim(char *s, size_t len);

/*
 * A secret named by env_key or file_key of map (at most one, both optional) into
 * *out, which stays NULL when neither is set. The path is at map. Messages name
 * the variable (when conventionally spelled) or the file, never the secret.
 */
int config_secret_read(struct config_reader *r, const yaml_node_t *map, const char *env_key,
		       const char *file_key, char **out);

/*
 * The table reader of auth.client_keys_file (value: the file's name, or NULL when
 * absent; base: the struct config): one key a line into auth.client_keys.
 */
int config_secret_read_client_keys(struct config_reader *r, const struct config_key *key,
				   const yaml_node_t *value, const yaml_node_t *keynode,
				   const yaml_node_t *where, void *base);

#endif
