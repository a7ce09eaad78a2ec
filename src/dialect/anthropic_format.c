/* anthropic_format.c — response_format for Anthropic: the structured answer asked for as a forced tool call. */
#include "anthropic.h"

#include <stdio.h>
#include <string.h>

/* Longest json_schema name quoted in the tool's description; OpenAI caps it at 64. */
#define ANTHROPIC_FORMAT_NAME_MAX 64

bool anthropic_format_is_answer(const json_t *name)
{
	return anthropic_str_is(name, ANTHROPIC_FORMAT_TOOL);
}

/* Fills err; returns -1. */
static int anthropic_format_refuse(char *err, size_t errlen, const char *why)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s", why);
	return -1;
}

/* The tool's description: what the model is to do with it, with the
 * schema's name and description when the client gave them, since they are
 * all the model learns of what the object is for. */
static json_t *anthropic_format_description(const json_t *spec)
{
	const json_t *name = json_object_get(spec, "name"), *about = json_object_get(spec, "description");
	char head[256];

	if (json_is_string(name))
		snprintf(head, sizeof head, "Give your whole answer by calling this tool: its input is the answer, "
			 "a JSON object of the schema \"%.*s\".", ANTHROPIC_FORMAT_NAME_MAX, json_string_value(name));
	else
		snprintf(head, sizeof head, "Give your whole answer by calling this tool: its input is the answer, "
			 "a JSON object.");
	if (json_is_string(about) && json_string_length(about) > 0)
		return json_pack("s++", head, " ", json_string_value(about));
	return json_string(head);
}

/* The input schema json_schema asks for: its schema, any object when it has none. */
static int anthropic_format_schema(const json_t *spec, json_t **schema, char *err, size_t errlen)
{
	json_t *given = json_object_get(spec, "schema");

	*schema = NULL;
	if (given == NULL || json_is_null(given)) {
		*schema = json_pack("{s:s}", "type", "object");
		return *schema != NULL ? 0 : anthropic_format_refuse(err, errlen, "Out of memory translating response_format.");
	}
	/* Anthropic takes only an object as a tool's input, as OpenAI takes
	 * only an object schema at the root of a json_schema. */
	if (!json_is_object(given) || !anthropic_str_is(json_object_get(given, "type"), "object"))
		return anthropic_format_refuse(err, errlen,
					       "Anthropic answers only an object schema, and response_format.json_schema.schema "
					       "is not one (its type must be \"object\").");
	*schema = json_incref(given);
	return 0;
}

int anthropic_format_tool(const json_t *openai, json_t **tool, char *err, size_t errlen)
{
	const json_t *format = json_object_get(openai, "response_format"), *type, *spec = NULL;
	json_t *schema = NULL;

	*tool = NULL;
	if (format == NULL || json_is_null(format))
		return 0;
	type = json_object_get(format, "type");
	if (anthropic_str_is(type, "text"))
		return 0;
	if (anthropic_str_is(type, "json_schema")) {
		spec = json_object_get(format, "json_schema");
		if (!json_is_object(spec))
			return anthropic_format_refuse(err, errlen,
						       "A response_format of type json_schema needs a json_schema object.");
		if (anthropic_format_schema(spec, &schema, err, errlen) != 0)
			return -1;
	} else if (anthropic_str_is(type, "json_object")) {
		schema = json_pack("{s:s}", "type", "object");
	} else
		return anthropic_format_refuse(err, errlen,
					       "The response_format type is none of text, json_object and json_schema, "
					       "so it has no Anthropic form.");
	*tool = json_pack("{s:s,s:o,s:o}", "name", ANTHROPIC_FORMAT_TOOL, "description", anthropic_format_description(spec),
			  "input_schema", schema);
	return *tool != NULL ? 0 : anthropic_format_refuse(err, errlen, "Out of memory translating response_format.");
}
