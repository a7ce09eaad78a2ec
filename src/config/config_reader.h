/* config_reader.h — reading one YAML document for the configuration: nodes, the key path, one-line messages, hints. */
#ifndef DETOUR_CONFIG_READER_H
#define DETOUR_CONFIG_READER_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#define CONFIG_PATH_MAX 512u /* longest key path in a message; longer ones are cut */
#define CONFIG_SHOW_MAX 64u  /* longest value quoted in a message */
#define CONFIG_HINT_MAX 32u  /* keys longer than this get no "did you mean" */

struct config;

/* One load: where messages go, which key is being read, and what it fills. */
struct config_reader {
	const char *file;             /* FILE in messages */
	const char *dir;              /* relative *_file paths resolve here; NULL: working directory */
	yaml_document_t *doc;
	struct config *cfg;           /* the configuration being filled */
	char *err;
	size_t errlen;
	char path[CONFIG_PATH_MAX];   /* "upstreams.groq.timeouts": the key being read */
	size_t pathlen;
};

/* Writes "FILE:LINE:COL: path: message" about node into the caller's buffer; returns -1. */
int config_reader_fail(struct config_reader *r, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* config_reader_fail with "out of memory"; returns -1. */
int config_reader_oom(struct config_reader *r, const yaml_node_t *node);

/*
 * Quotes text into buf (len at least CONFIG_SHOW_MAX + 16) for a message: "2x".
 * Control bytes become \xNN and a long value is cut with "...". Returns buf.
 */
const char *config_reader_show(const char *text, char *buf, size_t len);

/*
 * Appends ".key" (or "key" at the top) / "[index]" to the path; returns the
 * length config_reader_path_leave goes back to. Control bytes in a key become '?'.
 */
size_t config_reader_path_key(struct config_reader *r, const char *key);
size_t config_reader_path_index(struct config_reader *r, size_t index);
void config_reader_path_leave(struct config_reader *r, size_t old);

/* Whether candidate is close enough to word to suggest: at most two edits, and fewer than word has letters. */
bool config_reader_close(const char *word, const char *candidate);

/* "a mapping", "a sequence" or "a string". */
const char *config_reader_kind(yaml_node_type_t type);

/* 0 when node is of type, else fails with "expected X, found Y". */
int config_reader_expect(struct config_reader *r, const yaml_node_t *node, yaml_node_type_t type);

/* A plain "", "~" or "null": YAML's way of writing nothing, treated as if the key were absent. */
bool config_reader_is_null(const yaml_node_t *node);

/* The text of a scalar node into *text (never NULL); fails on another kind or a NUL inside. */
int config_reader_text(struct config_reader *r, const yaml_node_t *node, const char **text);

bool config_reader_has_control(const char *s);

yaml_node_t *config_reader_node(struct config_reader *r, int index);

/*
 * The value under key in map, or NULL when map is NULL, the key is absent or its
 * value is null. *keynode (when asked) gets the key's node, or NULL when absent.
 */
yaml_node_t *config_reader_get(struct config_reader *r, const yaml_node_t *map, const char *key,
			       yaml_node_t **keynode);

/* Fails for a required key: at its key when it is there with no value, else at where. */
int config_reader_missing(struct config_reader *r, const yaml_node_t *keynode, const yaml_node_t *where);

/* A copy of s, or NULL after an "out of memory" message at node. */
char *config_reader_dup(struct config_reader *r, const yaml_node_t *node, const char *s);

/* Which of names (NULL-terminated) text is, or -1. */
int config_reader_choice_index(const char *text, const char *const *names);

/* Fails at node with "X" is not one of a, b, c. */
int config_reader_fail_choice(struct config_reader *r, const yaml_node_t *node, const char *text,
			      const char *const *names);

bool config_reader_space(char c);

#endif
