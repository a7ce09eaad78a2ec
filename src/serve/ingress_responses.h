/* ingress_responses.h — OpenAI's Responses API as a client-facing ingress: POST /v1/responses through the attempt loop, and detour's stored responses (GET, DELETE /v1/responses/{id}, .../input_items). */
#ifndef DETOUR_INGRESS_RESPONSES_H
#define DETOUR_INGRESS_RESPONSES_H

struct exchange;

/* The path prefix of the stored-response endpoints. */
#define INGRESS_RESPONSES_PREFIX "/v1/responses/"

/*
 * POST /v1/responses, its body complete in x->body: previous_response_id is
 * expanded from the store (unknown or expired: 404 naming it), the request
 * is translated into a chat request (x->request, which the attempt loop
 * routes like any chat request), and the attempt loop starts. Each target is
 * spoken to natively (`responses: native`: the expanded Responses request to
 * {base_url}/responses) or through chat; a target that cannot say what the
 * request asks (built-in tools through chat) is passed over with the reason,
 * and the client gets a 400 when none can. Answers and streams go back as
 * `response` objects and Responses events under detour's own resp_ id; a
 * completed response is kept in the store unless the request said
 * `store: false` (or the store is off). Answers every error itself.
 */
void ingress_responses_start(struct exchange *x);

/*
 * GET /v1/responses/{id} (the stored response), GET
 * /v1/responses/{id}/input_items (its input, as a list; ?order=asc|desc,
 * desc by default) and DELETE /v1/responses/{id}; a 404 naming the id when
 * the store does not hold it. path is the request's path, method its method.
 */
void ingress_responses_stored(struct exchange *x, const char *method, const char *path);

#endif
