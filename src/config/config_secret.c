/* config_secret.c — secrets for the configuration: keys and tokens from environment variables and files, trimmed, checked, wiped. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"
#include "config_reader.h"
#include "config_secret.h"

#define CONFIG_SECRET_FILE_MAX (1u << 20) /* a key or token file past this is refused */

/*
 * Reads the whole file at path into a NUL-terminated buffer of at most cap bytes,
 * in *out (free with free) and *outlen. Returns 0, or -1 with errno set (EFBIG past
 * cap). A grown buffer is wiped before it is freed: the file may hold a secret.
 */
int config_secret_slurp(const char *path, size_t cap, char **out, size_t *outlen)
{
	char *buf = NULL, *bigger;
	size_t len = 0, size = 4096;
	ssize_t n;
	int fd = -1, rc = -1, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		goto fail;
	if ((buf = malloc(size)) == NULL)
		goto fail;
	for (;;) {
		if (len + 1 == size) {
			if (size > cap) {
				errno = EFBIG;
				goto fail;
			}
			if ((bigger = malloc(size * 2)) == NULL)
				goto fail;
			memcpy(bigger, buf, len);
			explicit_bzero(buf, size);
			free(buf);
			buf = bigger;
			size *= 2;
		}
		n = read(fd, buf + len, size - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > cap) {
		errno = EFBIG;
		goto fail;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = 0;
fail:
	saved = errno;
	if (buf != NULL) {
		explicit_bzero(buf, size);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	errno = saved;
	return rc;
}

#define CONFIG_SECRET_CREDENTIAL "credential:"

/*
 * "credential:NAME": the file systemd put in $CREDENTIALS_DIRECTORY for
 * LoadCredential=NAME:... (read as root, handed to the service's own user).
 */
static char *config_secret_credential(struct config_reader *r, const yaml_node_t *node, const char *name)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char *joined = NULL;

	if (name[0] == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		config_reader_fail(r, node, "credential:NAME needs the name of a credential (no /)");
		return NULL;
	}
	if (dir == NULL || dir[0] == '\0') {
		config_reader_fail(r, node, "credential:%s: $CREDENTIALS_DIRECTORY is not set "
				   "(systemd sets it for LoadCredential= and LoadCredentialEncrypted=)", name);
		return NULL;
	}
	if (asprintf(&joined, "%s/%s", dir, name) < 0) {
		config_reader_oom(r, node);
		return NULL;
	}
	return joined;
}

/* path as written, joined to the configuration's directory when relative, or a credential's file. */
char *config_secret_resolve(struct config_reader *r, const yaml_node_t *node, const char *path)
{
	char *joined = NULL;
	size_t dirlen;

	if (strncmp(path, CONFIG_SECRET_CREDENTIAL, strlen(CONFIG_SECRET_CREDENTIAL)) == 0)
		return config_secret_credential(r, node, path + strlen(CONFIG_SECRET_CREDENTIAL));
	if (path[0] == '/' || r->dir == NULL)
		return config_reader_dup(r, node, path);
	dirlen = strlen(r->dir);
	if (asprintf(&joined, "%s%s%s", r->dir, dirlen > 0 && r->dir[dirlen - 1] == '/' ? "" : "/", path) < 0) {
		config_reader_oom(r, node);
		return NULL;
	}
	return joined;
}

/*
 * Strips leading and trailing whitespace from the len bytes at s (room for len + 1), in place, and
 * zeroes what is left behind (s may be a secret); returns the new length.
 */
size_t config_secret_trim(char *s, size_t len)
{
	size_t start = 0, end = len;

	while (end > 0 && config_reader_space(s[end - 1]))
		end--;
	while (start < end && config_reader_space(s[start]))
		start++;
	memmove(s, s + start, end - start);
	memset(s + (end - start), 0, len - (end - start) + 1);
	return end - start;
}

/*
 * Why a trimmed secret of len bytes cannot be used, or NULL. It goes into an
 * HTTP header, so it must be one line without control bytes (a NUL included).
 */
static const char *config_secret_problem(const char *s, size_t len)
{
	if (len == 0)
		return "is empty";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return "holds more than one line or control characters";
	return NULL;
}

/*
 * Trims the secret of len bytes at s (heap, taken over) and hands it to *out.
 * Returns NULL, or why it cannot be used, after wiping and freeing it.
 */
static const char *config_secret_keep(char *s, size_t len, char **out)
{
	const char *problem;

	len = config_secret_trim(s, len);
	problem = config_secret_problem(s, len);
	if (problem == NULL) {
		*out = s;
	} else {
		explicit_bzero(s, len);
		free(s);
	}
	return problem;
}

/*
 * 2 for a conventional environment variable name (upper case, digits, _),
 * 1 for another valid one, 0 for none. Messages quote only conventional names:
 * a key pasted into *_env by mistake (sk-..., gsk_...) then never reaches a log.
 */
static int config_secret_env_name_kind(const char *name)
{
	int kind = 2;

	if (name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
		return 0;
	for (const char *p = name; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
			continue;
		if (*p >= 'a' && *p <= 'z')
			kind = 1;
		else
			return 0;
	}
	return kind;
}

/* The secret in the environment variable named by node, trimmed, into *out. The path is at the key. */
static int config_secret_from_env(struct config_reader *r, const yaml_node_t *node, char **out)
{
	const char *name, *value, *problem;
	char *copy;
	int kind, rc = -1;

	if (config_reader_text(r, node, &name) < 0)
		goto fail;
	kind = config_secret_env_name_kind(name);
	if (kind == 0) {
		config_reader_fail(r, node, "not an environment variable name (letters, digits, _; not shown, in case it is a key)");
		goto fail;
	}
	value = getenv(name);
	if (value == NULL) {
		if (kind == 2)
			config_reader_fail(r, node, "environment variable %s is not set", name);
		else
			config_reader_fail(r, node, "the environment variable named here is not set");
		goto fail;
	}
	if ((copy = config_reader_dup(r, node, value)) == NULL)
		goto fail;
	if ((problem = config_secret_keep(copy, strlen(copy), out)) != NULL) {
		if (kind == 2)
			config_reader_fail(r, node, "environment variable %s %s", name, problem);
		else
			config_reader_fail(r, node, "the environment variable named here %s", problem);
		goto fail;
	}
	rc = 0;
fail:
	return rc;
}

/* The secret in the file named by node, trimmed, into *out. The path is at the key. */
static int config_secret_from_file(struct config_reader *r, const yaml_node_t *node, char **out)
{
	const char *name, *problem;
	char *path = NULL, *buf;
	size_t len;
	int rc = -1;

	if (config_reader_text(r, node, &name) < 0 || (path = config_secret_resolve(r, node, name)) == NULL)
		goto fail;
	if (config_secret_slurp(path, CONFIG_SECRET_FILE_MAX, &buf, &len) < 0) {
		config_reader_fail(r, node, "cannot read the file named here (not shown, in case it is a key): %s", strerror(errno));
		goto fail;
	}
	if ((problem = config_secret_keep(buf, len, out)) != NULL) {
		config_reader_fail(r, node, "%s %s", path, problem);
		goto fail;
	}
	rc = 0;
fail:
	free(path);
	return rc;
}

/* A secret named by env_key or file_key (at most one, both optional) into *out; NULL when neither. */
int config_secret_read(struct config_reader *r, const yaml_node_t *map, const char *env_key,
			      const char *file_key, char **out)
{
	yaml_node_t *env_k, *file_k;
	yaml_node_t *env = config_reader_get(r, map, env_key, &env_k);
	yaml_node_t *file = config_reader_get(r, map, file_key, &file_k);
	size_t mark = r->pathlen;
	int rc = -1;

	if (env_k != NULL && file_k != NULL) {
		bool file_later = env_k->start_mark.index < file_k->start_mark.index;

		config_reader_path_key(r, file_later ? file_key : env_key);
		config_reader_fail(r, file_later ? file_k : env_k, "%s and %s cannot both be set", env_key, file_key);
		goto fail;
	}
	if (env != NULL) {
		config_reader_path_key(r, env_key);
		if (config_secret_from_env(r, env, out) < 0)
			goto fail;
	}
	if (file != NULL) {
		config_reader_path_key(r, file_key);
		if (config_secret_from_file(r, file, out) < 0)
			goto fail;
	}
	rc = 0;
fail:
	config_reader_path_leave(r, mark);
	return rc;
}

/*
 * The client keys: one a line, whitespace trimmed, blank lines and lines starting
 * with # skipped. A key with whitespace inside is refused: a bearer token has none.
 */
int config_secret_read_client_keys(struct config_reader *r, const struct config_key *key,
				   const yaml_node_t *v, const yaml_node_t *keynode,
				   const yaml_node_t *where, void *base)
{
	struct config *cfg = base;
	const char *name;
	char *path = NULL, *buf = NULL, *line, *next;
	size_t len = 0, count = 0, lineno = 0;
	int rc = -1;

	(void)key;
	(void)keynode;
	(void)where;
	if (v == NULL)
		goto done;
	if (config_reader_text(r, v, &name) < 0 || (path = config_secret_resolve(r, v, name)) == NULL)
		goto fail;
	/* A file of many keys is named: nobody pastes a list of keys in its place. */
	if (config_secret_slurp(path, CONFIG_SECRET_FILE_MAX, &buf, &len) < 0) {
		char shown[CONFIG_SHOW_MAX + 16];

		config_reader_fail(r, v, "cannot read the client keys file %s: %s",
				   config_reader_show(path, shown, sizeof shown), strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < len; i++)
		count += buf[i] == '\n';
	if ((cfg->auth.client_keys = calloc(count + 1, sizeof *cfg->auth.client_keys)) == NULL) {
		config_reader_oom(r, v);
		goto fail;
	}
	for (line = buf; line != NULL; line = next) {
		size_t linelen;

		lineno++;
		next = memchr(line, '\n', len - (size_t)(line - buf));
		linelen = next != NULL ? (size_t)(next - line) : len - (size_t)(line - buf);
		if (next != NULL)
			next++;
		linelen = config_secret_trim(line, linelen);
		if (linelen == 0 || line[0] == '#')
			continue;
		for (size_t i = 0; i < linelen; i++) {
			if ((unsigned char)line[i] <= 0x20 || line[i] == 0x7f) {
				config_reader_fail(r, v, "%s line %zu: a key must not hold spaces or control characters",
					    path, lineno);
				goto fail;
			}
		}
		if ((cfg->auth.client_keys[cfg->auth.nclient_keys] = strndup(line, linelen)) == NULL) {
			config_reader_oom(r, v);
			goto fail;
		}
		cfg->auth.nclient_keys++;
	}
	if (cfg->auth.nclient_keys == 0) {
		config_reader_fail(r, v, "%s holds no keys", path);
		goto fail;
	}
done:
	rc = 0;
fail:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	free(path);
	return rc;
}
