/* prefill.c — the request that continues a cut answer: the original chat request plus the text delivered so far as a trailing assistant message. */
#include "prefill.h"

#include <stdlib.h>
#include <string.h>

static json_t *prefill_message(const char *role, const char *text, size_t len)
{
	return json_pack("{s:s, s:s%}", "role", role, "content", text, len);
}

int prefill_chat(json_t *root, const char *text, size_t len, enum prefill_style style)
{
	json_t *messages = json_object_get(root, "messages");
	int rc = 0;

	if (!json_is_array(messages))
		return -1;
	rc |= json_array_append_new(messages, prefill_message("assistant", text, len));
	switch (style) {
	case PREFILL_INSTRUCT:
		rc |= json_array_append_new(messages,
					    prefill_message("user", PREFILL_INSTRUCTION, strlen(PREFILL_INSTRUCTION)));
		break;
	case PREFILL_CONTINUE_FINAL:
		/* vLLM refuses continue_final_message with its default add_generation_prompt. */
		rc |= json_object_set_new(root, "continue_final_message", json_true());
		rc |= json_object_set_new(root, "add_generation_prompt", json_false());
		break;
	case PREFILL_ASSISTANT_LAST:
		break;
	}
	return rc != 0 ? -1 : 0;
}

char *prefill_chat_body(const char *body, size_t len, const char *text, size_t text_len, enum prefill_style style,
			size_t *out_len)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	char *out = NULL;

	if (root == NULL || prefill_chat(root, text, text_len, style) != 0)
		goto fail;
	out = json_dumps(root, JSON_COMPACT);
	if (out != NULL)
		*out_len = strlen(out);
fail:
	json_decref(root);
	return out;
}
