/* config_schema.h — every key of the configuration file: one table a section, with its type, limits, default and slot. */
#ifndef DETOUR_CONFIG_SCHEMA_H
#define DETOUR_CONFIG_SCHEMA_H

#include "config_table.h"

/*
 * A new key is one row in its section's table below (config_schema.c), plus
 * its line in docs/configuration.md and conf/detour.yaml: the config_schema
 * unit suite fails until both show it.
 */

/* The whole file (base: struct config); its rows lead to every other section. */
extern const struct config_section config_schema_root;

/* Sections read once per item (bases: struct config_upstream, config_route, config_target). */
extern const struct config_section config_schema_upstream;
extern const struct config_section config_schema_route;
extern const struct config_section config_schema_target;


#endif
