/* outcome.c — what one attempt's result means for the exchange, by the rules of fallback_on. */
#include "outcome.h"

enum outcome outcome_classify(const struct config_fallback *fb, enum engine_error error, unsigned status)
{
	bool named = false;

	switch (error) {
	case ENGINE_OK:
		if (status >= 200 && status < 300)
			return OUTCOME_SUCCESS;
		return config_fallback_status(fb, status) ? OUTCOME_FALL_OVER : OUTCOME_PASS_THROUGH;
	case ENGINE_CONNECT:
		named = fb->connect;
		break;
	case ENGINE_TIMEOUT:
		named = fb->timeout;
		break;
	case ENGINE_PROTOCOL:
	case ENGINE_TOO_LARGE:
		named = fb->protocol;
		break;
	case ENGINE_INTERNAL:
		/* detour's own trouble says nothing about the next target. */
		named = true;
		break;
	}
	return named ? OUTCOME_FALL_OVER : OUTCOME_GIVE_UP;
}

bool outcome_upstream_fault(const struct config_fallback *fb, enum engine_error error, unsigned status)
{
	if (error == ENGINE_INTERNAL)
		return false;
	/* Caused by the request itself, even when fallback_on moves it to the next target. */
	if (error == ENGINE_OK && (status == 400 || status == 413 || status == 422))
		return false;
	return outcome_classify(fb, error, status) == OUTCOME_FALL_OVER;
}

bool outcome_retryable(enum engine_error error, unsigned status)
{
	switch (error) {
	case ENGINE_CONNECT:
	case ENGINE_TIMEOUT:
	case ENGINE_PROTOCOL:
		return true;
	case ENGINE_OK:
		return status == 408 || status == 409 || status == 429 || (status >= 500 && status < 600);
	default:
		return false;
	}
}

const char *outcome_name(enum outcome o)
{
	switch (o) {
	case OUTCOME_SUCCESS: return "success";
	case OUTCOME_FALL_OVER: return "fall_over";
	case OUTCOME_PASS_THROUGH: return "pass_through";
	case OUTCOME_GIVE_UP: return "give_up";
	}
	return "unknown";
}
