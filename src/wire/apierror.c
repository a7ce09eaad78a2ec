/* apierror.c — OpenAI's error object: the one shape every error detour sends takes, in a body or an SSE event. */
#include "apierror.h"

int apierror_open(struct buf *out, const char *message, const char *type, const char *param, const char *code)
{
	int rc = 0;

	rc |= buf_append_str(out, "{\"error\":{\"message\":");
	rc |= buf_append_json_string(out, message);
	rc |= buf_append_str(out, ",\"type\":");
	rc |= buf_append_json_string(out, type);
	rc |= buf_append_str(out, ",\"param\":");
	rc |= buf_append_json_string(out, param);
	rc |= buf_append_str(out, ",\"code\":");
	rc |= buf_append_json_string(out, code);
	return rc != 0 ? -1 : 0;
}

int apierror_json(struct buf *out, const char *message, const char *type, const char *param, const char *code)
{
	if (apierror_open(out, message, type, param, code) != 0)
		return -1;
	return buf_append_str(out, "}}");
}
