/* mock_control.c — the control API under /_mock/: stats, the fault set, reset; never counted as requests, never faulted. */
#include "mock_control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_json.h"

/* Writes value (reference taken) as the answer; a NULL value is an allocation failure. */
static void mock_control_json(struct mock_answer *a, unsigned status, json_t *value)
{
	char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;

	a->status = status;
	if (text == NULL)
		a->text.failed = true;
	else
		buf_append_str(&a->text, text);
	free(text);
	json_decref(value);
}

static void mock_control_error(struct mock_answer *a, unsigned status, const char *message)
{
	mock_control_json(a, status, json_pack("{s:{s:s}}", "error", "message", message));
}

static void mock_control_set_faults(struct mock_answer *a, const struct mock_call *call, struct mock_faults *faults)
{
	char err[256];
	struct mock_fault_set *set;
	json_t *object = mock_json_parse(call->body, call->body_len, err, sizeof err);

	if (object == NULL) {
		mock_control_error(a, 400, err);
		return;
	}
	set = mock_fault_set_from_json(object, err, sizeof err);
	json_decref(object);
	if (set == NULL) {
		mock_control_error(a, 400, err);
		return;
	}
	mock_faults_replace(faults, set);
	mock_control_json(a, 200, mock_faults_json(faults));
}

void mock_control_answer(struct mock_answer *a, const struct mock_call *call,
			 struct mock_stats *stats, struct mock_faults *faults)
{
	const char *what = call->path + strlen(MOCK_CONTROL_PREFIX);
	bool get = strcmp(call->method, "GET") == 0;
	bool post = strcmp(call->method, "POST") == 0;
	char message[512];

	if (strcmp(what, "stats") == 0 && get) {
		mock_control_json(a, 200, mock_stats_json(stats));
	} else if (strcmp(what, "faults") == 0 && get) {
		mock_control_json(a, 200, mock_faults_json(faults));
	} else if (strcmp(what, "faults") == 0 && post) {
		mock_control_set_faults(a, call, faults);
	} else if (strcmp(what, "reset") == 0 && post) {
		mock_stats_reset(stats);
		mock_control_json(a, 200, json_pack("{s:b}", "reset", 1));
	} else if (strcmp(what, "stats") == 0 || strcmp(what, "faults") == 0 || strcmp(what, "reset") == 0) {
		snprintf(message, sizeof message, "%s is not allowed on %.400s", call->method, call->path);
		mock_control_error(a, 405, message);
	} else {
		snprintf(message, sizeof message, "no control call at %.400s; try /_mock/stats, /_mock/faults, /_mock/reset",
			 call->path);
		mock_control_error(a, 404, message);
	}
}
