/* config_reader.c — reading one YAML document for the configuration: nodes, the key path, one-line messages, hints. */
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "config_reader.h"

/* ---- messages ------------------------------------------------------------- */

/* Writes "FILE:LINE:COL: path: message" about node into the caller's buffer; returns -1. */
int config_reader_fail(struct config_reader *r, const yaml_node_t *node, const char *fmt, ...)
{
	char message[512];
	va_list ap;

	if (r->err == NULL || r->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "%s:%zu:%zu: %s%s%s", r->file,
		 node->start_mark.line + 1, node->start_mark.column + 1,
		 r->path, r->pathlen > 0 ? ": " : "", message);
	return -1;
}

int config_reader_oom(struct config_reader *r, const yaml_node_t *node)
{
	return config_reader_fail(r, node, "out of memory");
}

/*
 * Quotes text for a message: "2x". Control bytes become \xNN and a long value is
 * cut with "...", so a message stays one readable line whatever the file holds.
 */
const char *config_reader_show(const char *text, char *buf, size_t len)
{
	size_t o = 0;

	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		bool boundary = (*p & 0xc0) != 0x80; /* not inside a UTF-8 character */

		if (o + 10 > len || (boundary && o > CONFIG_SHOW_MAX)) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
		else if (*p == '"' || *p == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\%c", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/*
 * Appends ".key" (or "key" at the top) to the path; returns the length to go
 * back to. Control bytes in a key become '?', so a message stays one line.
 */
size_t config_reader_path_key(struct config_reader *r, const char *key)
{
	size_t old = r->pathlen;
	int n = snprintf(r->path + old, sizeof r->path - old, "%s%s", old > 0 ? "." : "", key);

	if (n > 0)
		r->pathlen = old + (size_t)n < sizeof r->path ? old + (size_t)n : sizeof r->path - 1;
	for (size_t i = old; i < r->pathlen; i++)
		if ((unsigned char)r->path[i] < 0x20 || r->path[i] == 0x7f)
			r->path[i] = '?';
	return old;
}

/* Appends "[index]" to the path; returns the length to go back to. */
size_t config_reader_path_index(struct config_reader *r, size_t index)
{
	size_t old = r->pathlen;
	int n = snprintf(r->path + old, sizeof r->path - old, "[%zu]", index);

	if (n > 0)
		r->pathlen = old + (size_t)n < sizeof r->path ? old + (size_t)n : sizeof r->path - 1;
	return old;
}

void config_reader_path_leave(struct config_reader *r, size_t old)
{
	r->pathlen = old;
	r->path[old] = '\0';
}

/* Levenshtein distance, or UINT_MAX for words too long to bother. */
static unsigned config_reader_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[CONFIG_HINT_MAX + 1];

	if (la > CONFIG_HINT_MAX || lb > CONFIG_HINT_MAX)
		return UINT_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Whether candidate is close enough to word to suggest it: at most two edits, and fewer than word has letters. */
bool config_reader_close(const char *word, const char *candidate)
{
	unsigned d = config_reader_distance(word, candidate);

	return d <= 2 && d < strlen(word);
}

/* ---- nodes ---------------------------------------------------------------- */

const char *config_reader_kind(yaml_node_type_t type)
{
	switch (type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	default:
		return "a string";
	}
}

int config_reader_expect(struct config_reader *r, const yaml_node_t *node, yaml_node_type_t type)
{
	if (node->type == type)
		return 0;
	return config_reader_fail(r, node, "expected %s, found %s", config_reader_kind(type), config_reader_kind(node->type));
}

/* A plain "", "~" or "null": YAML's way of writing nothing. Treated as if the key were absent. */
bool config_reader_is_null(const yaml_node_t *node)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
		if (strcmp((const char *)node->data.scalar.value, nulls[i]) == 0)
			return true;
	return false;
}

/* The text of a scalar node. A NUL inside ("\0" in a quoted string) is refused: C strings would cut there. */
int config_reader_text(struct config_reader *r, const yaml_node_t *node, const char **text)
{
	*text = ""; /* set on failure too: gcc -O3 cannot see that callers stop then */
	if (config_reader_expect(r, node, YAML_SCALAR_NODE) < 0)
		return -1;
	if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length)
		return config_reader_fail(r, node, "holds a NUL character");
	*text = (const char *)node->data.scalar.value;
	return 0;
}

bool config_reader_has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

yaml_node_t *config_reader_node(struct config_reader *r, int index)
{
	return yaml_document_get_node(r->doc, index);
}

/*
 * The value under key in map, or NULL when map is NULL, the key is absent or its
 * value is null. *keynode (when asked) gets the key's node, or NULL when absent.
 */
yaml_node_t *config_reader_get(struct config_reader *r, const yaml_node_t *map, const char *key,
			       yaml_node_t **keynode)
{
	if (keynode != NULL)
		*keynode = NULL;
	if (map == NULL)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = config_reader_node(r, p->key);
		yaml_node_t *v = config_reader_node(r, p->value);

		if (k->type != YAML_SCALAR_NODE || strcmp((const char *)k->data.scalar.value, key) != 0)
			continue;
		if (keynode != NULL)
			*keynode = k;
		return config_reader_is_null(v) ? NULL : v;
	}
	return NULL;
}

/*
 * Checks a mapping's keys: each a string, none twice, and (when known is not
 * NULL) each one of known. The path is at the mapping. Duplicates are found in
 * O(n^2) compares: fine for the hundreds of models a file may name.
 */

/* Fails for a required key: at its key when it is there with no value, else at where (the enclosing node). */
int config_reader_missing(struct config_reader *r, const yaml_node_t *keynode, const yaml_node_t *where)
{
	if (keynode != NULL)
		return config_reader_fail(r, keynode, "empty (a value is required)");
	return config_reader_fail(r, where, "missing (required)");
}

char *config_reader_dup(struct config_reader *r, const yaml_node_t *node, const char *s)
{
	char *copy = strdup(s);

	if (copy == NULL)
		config_reader_oom(r, node);
	return copy;
}

/* Which of names (NULL-terminated) text is, or -1. */
int config_reader_choice_index(const char *text, const char *const *names)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(text, names[i]) == 0)
			return i;
	return -1;
}

/* Fails at node with "X" is not one of a, b, c. */
int config_reader_fail_choice(struct config_reader *r, const yaml_node_t *node, const char *text,
			      const char *const *names)
{
	char list[256] = "", shown[CONFIG_SHOW_MAX + 16];
	size_t o = 0;

	for (size_t i = 0; names[i] != NULL && o < sizeof list; i++)
		o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i > 0 ? ", " : "", names[i]);
	return config_reader_fail(r, node, "%s is not one of %s", config_reader_show(text, shown, sizeof shown), list);
}


/* The white space YAML and files put around values. */
bool config_reader_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
