/* completion_oracle.h — the jansson builder of streamed chat completions as it was, the reference for completion_builder's output. */
#ifndef DETOUR_COMPLETION_ORACLE_H
#define DETOUR_COMPLETION_ORACLE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"

struct completion_oracle {
	json_t *id;
	json_t *model;
	json_t *created;
	json_t *choices;
	json_t *usage;
	bool broken;
};

void completion_oracle_init(struct completion_oracle *b);
void completion_oracle_free(struct completion_oracle *b);
/* As completion_builder_add did. */
void completion_oracle_add(struct completion_oracle *b, const char *chunk, size_t len);
/* As completion_builder_finish did. */
int completion_oracle_finish(struct completion_oracle *b, struct buf *out);

#endif
