/* dialect_table.h — which dialect an upstream speaks, chosen once by its provider. */
#ifndef DETOUR_DIALECT_TABLE_H
#define DETOUR_DIALECT_TABLE_H

#include "config.h"
#include "dialect.h"

/* The dialect an upstream of this provider speaks (never NULL). */
const struct dialect *dialect_table_for(enum config_provider provider);

#endif
