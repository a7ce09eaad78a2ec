/* log.h — one line per event on stderr (journald or the container runtime collects it). */
#ifndef DETOUR_LOG_H
#define DETOUR_LOG_H

#include "config.h"

/* Lines below level are dropped. Safe to call before any configuration. */
void log_set_level(enum config_log_level level);
int log_enabled(enum config_log_level level);

/* Writes "TIME LEVEL message\n" with one write(2), so lines from several
 * threads never interleave. Messages longer than 2 KiB are cut. Callers must
 * never pass a secret. */
void log_write(enum config_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(CONFIG_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(CONFIG_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(CONFIG_LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(CONFIG_LOG_ERROR, __VA_ARGS__)

#endif
