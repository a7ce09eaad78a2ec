/* config_load.c — loads detour's YAML configuration into a struct config, read by the tables of config_schema.c. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config.h"
#include "config_load.h"
#include "config_reader.h"
#include "config_schema.h"
#include "config_secret.h"
#include "config_table.h"

#define CONFIG_FILE_MAX (16u << 20) /* a configuration file past this is refused */

/* A configuration holding every default; NULL when out of memory. */
static struct config *config_new(const char *name)
{
	struct config *cfg = calloc(1, sizeof *cfg);

	if (cfg == NULL)
		return NULL;
	if ((cfg->path = strdup(name)) == NULL || config_table_defaults(&config_schema_root, cfg) < 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* The line'th line of text (from 0) and its length in *len; NULL past the end. */
static const char *config_load_line(const char *text, size_t line, size_t *len)
{
	const char *p = text, *end;

	for (size_t i = 0; i < line && p != NULL; i++)
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	if (p == NULL)
		return NULL;
	end = strchr(p, '\n');
	*len = end != NULL ? (size_t)(end - p) : strlen(p);
	return p;
}

/* Whether the len bytes at line hold an unquoted "[...]:" — an IPv6 listen address YAML took for a sequence. */
static bool config_load_bare_ipv6(const char *line, size_t len)
{
	const char *open = memchr(line, '[', len);
	const char *close = open != NULL ? memchr(open, ']', len - (size_t)(open - line)) : NULL;

	if (close == NULL || (size_t)(close - line) + 1 >= len || close[1] != ':')
		return false;
	return memchr(open, ':', (size_t)(close - open)) != NULL && memchr(line, '"', (size_t)(open - line)) == NULL &&
	       memchr(line, '\'', (size_t)(open - line)) == NULL;
}

/* A few words for the libyaml messages that do not say what to change, or "". */
static const char *config_load_hint(const yaml_parser_t *parser, const char *text)
{
	size_t len = 0;
	const char *line = config_load_line(text, parser->problem_mark.line, &len);
	const char *problem = parser->problem != NULL ? parser->problem : "";
	const char *context = parser->context != NULL ? parser->context : "";

	if (line == NULL)
		return "";
	if (strstr(problem, "cannot start any token") != NULL && parser->problem_mark.column < len &&
	    line[parser->problem_mark.column] == '\t')
		return "; a tab: YAML indents with spaces only";
	if (strstr(context, "scanning an alias") != NULL || strstr(problem, "undefined alias") != NULL)
		return "; a bare * starts an alias (*name of an &name): quote a literal one, as in \"*\"";
	if (config_load_bare_ipv6(line, len))
		return "; an IPv6 address must be quoted, as in listen: \"[::1]:8080\"";
	return "";
}

/* libyaml's problem and mark. A reader error (bad UTF-8) has only a byte offset: count lines ourselves. */
static void config_syntax_error(struct config_reader *r, const yaml_parser_t *parser, const char *text)
{
	size_t line = parser->problem_mark.line, column = parser->problem_mark.column;

	if (r->err == NULL || r->errlen == 0)
		return;
	if (parser->error == YAML_MEMORY_ERROR) {
		snprintf(r->err, r->errlen, "%s: out of memory", r->file);
		return;
	}
	if (parser->error == YAML_READER_ERROR) {
		line = column = 0;
		for (size_t i = 0; i < parser->problem_offset; i++) {
			if (text[i] == '\n') {
				line++;
				column = 0;
			} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
				column++; /* libyaml counts characters, not bytes */
			}
		}
	}
	if (parser->context != NULL)
		snprintf(r->err, r->errlen, "%s:%zu:%zu: %s (%s at %zu:%zu)%s", r->file, line + 1, column + 1,
			 parser->problem, parser->context,
			 parser->context_mark.line + 1, parser->context_mark.column + 1, config_load_hint(parser, text));
	else
		snprintf(r->err, r->errlen, "%s:%zu:%zu: %s%s", r->file, line + 1, column + 1,
			 parser->problem != NULL ? parser->problem : "cannot parse", config_load_hint(parser, text));
}

/* Parses text (len bytes, NUL-terminated) as the file name; relative *_file paths resolve against dir. */
static int config_load_text(const char *name, const char *dir, const char *text, size_t len,
			    struct config **out, char *err, size_t errlen)
{
	struct config_reader r = { .file = name, .dir = dir, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	bool have_doc = false, have_extra = false;
	yaml_node_t *root;
	struct config *cfg = NULL;
	int rc = -1;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		config_syntax_error(&r, &parser, text);
		goto fail;
	}
	have_doc = true;
	r.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL || config_reader_is_null(root)) {
		snprintf(err, errlen, "%s:1:1: the configuration is empty", name);
		goto fail;
	}
	/* A second document would be ignored silently; refuse it instead. */
	if (!yaml_parser_load(&parser, &extra)) {
		config_syntax_error(&r, &parser, text);
		goto fail;
	}
	have_extra = true;
	if (yaml_document_get_root_node(&extra) != NULL) {
		config_reader_fail(&r, yaml_document_get_root_node(&extra), "only one YAML document is allowed");
		goto fail;
	}
	if ((cfg = config_new(name)) == NULL) {
		config_reader_oom(&r, root);
		goto fail;
	}
	r.cfg = cfg;
	if (config_table_read(&r, root, root, &config_schema_root, cfg) < 0)
		goto fail;
	*out = cfg;
	cfg = NULL;
	rc = 0;
fail:
	config_free(cfg);
	if (have_extra)
		yaml_document_delete(&extra);
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

int config_load_string(const char *name, const char *yaml, size_t len,
		       struct config **out, char *err, size_t errlen)
{
	char *copy;
	int rc;

	/* A private NUL-terminated copy: a reader error's position is found by walking the text. */
	if ((copy = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	memcpy(copy, yaml, len);
	copy[len] = '\0';
	rc = config_load_text(name, NULL, copy, len, out, err, errlen);
	free(copy);
	return rc;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *text = NULL, *dir = NULL;
	size_t len;
	int rc = -1;

	if (config_secret_slurp(path, CONFIG_FILE_MAX, &text, &len) < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		goto fail;
	}
	if (slash != NULL && (dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	rc = config_load_text(path, dir, text, len, out, err, errlen);
fail:
	free(dir);
	free(text);
	return rc;
}
