/* dialect_table.c — the one table from an upstream's provider to the dialect it speaks. */
#include "dialect_table.h"

#include "dialect_anthropic.h"
#include "dialect_openai.h"

const struct dialect *dialect_table_for(enum config_provider provider)
{
	switch (provider) {
	case CONFIG_PROVIDER_OPENAI: return &dialect_openai;
	case CONFIG_PROVIDER_ANTHROPIC: return &dialect_anthropic;
	}
	return &dialect_openai;
}
