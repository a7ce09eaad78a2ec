/* mock_json.c — JSON in and out: request bodies parsed with a nesting cap, strings written escaped into a buffer. */
#include "mock_json.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Deepest [ or { nesting in text, strings skipped; O(len), stops counting past the cap. */
static int mock_json_depth(const char *text, size_t len)
{
	int depth = 0;
	int deepest = 0;
	bool in_string = false;
	size_t i;

	for (i = 0; i < len && deepest <= MOCK_JSON_MAX_DEPTH; i++) {
		char c = text[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > deepest)
				deepest = depth;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return deepest;
}

json_t *mock_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t error;
	json_t *value;

	if (len == 0) {
		snprintf(err, errlen, "the request body is empty; expected a JSON object");
		return NULL;
	}
	if (mock_json_depth(text, len) > MOCK_JSON_MAX_DEPTH) {
		snprintf(err, errlen, "the request body is nested deeper than %d levels", MOCK_JSON_MAX_DEPTH);
		return NULL;
	}
	value = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
	if (value == NULL)
		snprintf(err, errlen, "the request body is not valid JSON: %s at line %d column %d",
			 error.text, error.line, error.column);
	return value;
}

int mock_json_string(struct buf *b, const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = 0;
	size_t i;

	buf_append(b, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		char esc[6] = { '\\', 0, 0, 0, 0, 0 };
		size_t n = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		buf_append(b, text + start, i - start);
		buf_append(b, esc, n);
		start = i + 1;
	}
	buf_append(b, text + start, len - start);
	buf_append(b, "\"", 1);
	return b->failed ? -1 : 0;
}

int mock_json_cstring(struct buf *b, const char *text)
{
	if (text == NULL)
		return buf_append_str(b, "null");
	return mock_json_string(b, text, strlen(text));
}

size_t mock_json_text_bytes(const json_t *value)
{
	size_t total = 0;
	size_t i;
	const char *key;
	json_t *item;

	if (json_is_string(value))
		return json_string_length(value);
	if (json_is_array(value)) {
		for (i = 0; i < json_array_size(value); i++)
			total += mock_json_text_bytes(json_array_get(value, i));
	} else if (json_is_object(value)) {
		json_object_foreach((json_t *)value, key, item)
			total += mock_json_text_bytes(item);
	}
	return total;
}

#define MOCK_JSON_EXAMPLE_DEPTH 16

/* The schema a local $ref names, or NULL. */
static const json_t *mock_json_ref(const json_t *root, const char *ref)
{
	static const char *const prefixes[] = { "#/$defs/", "#/definitions/" };
	size_t i;

	for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(ref, prefixes[i], strlen(prefixes[i])) == 0)
			return json_object_get(json_object_get(root, i == 0 ? "$defs" : "definitions"),
					       ref + strlen(prefixes[i]));
	return strcmp(ref, "#") == 0 ? root : NULL;
}

/* The schema's type: a string, or the first non-null entry of a list ("null" when only that). */
static const char *mock_json_schema_type(const json_t *schema)
{
	const json_t *type = json_object_get(schema, "type");
	const char *first = NULL;
	size_t i;

	if (json_is_string(type))
		return json_string_value(type);
	for (i = 0; i < json_array_size(type); i++) {
		const char *t = json_string_value(json_array_get(type, i));

		if (t != NULL && strcmp(t, "null") != 0)
			return t;
		if (first == NULL)
			first = t;
	}
	if (first == NULL && json_is_object(json_object_get(schema, "properties")))
		return "object";
	return first;
}

static json_t *mock_json_example_at(const json_t *schema, const json_t *root, int depth)
{
	static const char *const choices[] = { "anyOf", "oneOf", "allOf" };
	const json_t *properties;
	const json_t *sub;
	const char *type;
	const char *name;
	json_t *out;
	json_t *value;
	size_t i;

	if (!json_is_object(schema) || depth > MOCK_JSON_EXAMPLE_DEPTH)
		return json_null();
	if (json_is_string(json_object_get(schema, "$ref")))
		return mock_json_example_at(mock_json_ref(root, json_string_value(json_object_get(schema, "$ref"))),
					    root, depth + 1);
	if (json_object_get(schema, "const") != NULL)
		return json_deep_copy(json_object_get(schema, "const"));
	if (json_array_size(json_object_get(schema, "enum")) > 0)
		return json_deep_copy(json_array_get(json_object_get(schema, "enum"), 0));
	for (i = 0; i < sizeof choices / sizeof choices[0]; i++) {
		sub = json_array_get(json_object_get(schema, choices[i]), 0);
		if (sub != NULL)
			return mock_json_example_at(sub, root, depth + 1);
	}
	type = mock_json_schema_type(schema);
	if (type == NULL)
		return json_null();
	if (strcmp(type, "object") == 0) {
		out = json_object();
		properties = json_object_get(schema, "properties");
		json_object_foreach((json_t *)properties, name, value)
			if (out != NULL)
				json_object_set_new(out, name, mock_json_example_at(value, root, depth + 1));
		return out;
	}
	if (strcmp(type, "array") == 0) {
		out = json_array();
		sub = json_object_get(schema, "maxItems");
		if (out != NULL && !(json_is_integer(sub) && json_integer_value(sub) == 0))
			json_array_append_new(out, mock_json_example_at(json_object_get(schema, "items"), root, depth + 1));
		return out;
	}
	if (strcmp(type, "string") == 0)
		return json_string("mock");
	if (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0)
		return json_is_number(json_object_get(schema, "minimum")) && json_number_value(json_object_get(schema, "minimum")) > 1
			       ? json_deep_copy(json_object_get(schema, "minimum"))
			       : json_integer(1);
	if (strcmp(type, "boolean") == 0)
		return json_true();
	return json_null();
}

json_t *mock_json_example(const json_t *schema, const json_t *root)
{
	return mock_json_example_at(schema, root, 0);
}
