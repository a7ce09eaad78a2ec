/* config_load.h — reading a configuration file (or text) into a struct config, with FILE:LINE:COL messages. */
#ifndef DETOUR_CONFIG_LOAD_H
#define DETOUR_CONFIG_LOAD_H

#include <stddef.h>

#include "config.h"

/*
 * Loads and checks the YAML file at path. On success returns 0 and stores a new
 * configuration in *out (free with config_free). On failure returns -1, leaves
 * *out untouched and writes "FILE:LINE:COL: message" into err.
 * Relative *_file paths in the file are read from the file's directory.
 */
int config_load(const char *path, struct config **out, char *err, size_t errlen);

/*
 * As config_load, from memory (len bytes, no NUL needed); name stands for FILE
 * in messages and relative *_file paths are read from the working directory.
 */
int config_load_string(const char *name, const char *yaml, size_t len,
		       struct config **out, char *err, size_t errlen);

#endif
