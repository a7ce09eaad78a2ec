/* log.c — one line per event on stderr (journald or the container runtime collects it). */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "clock.h"

static atomic_int log_level = CONFIG_LOG_INFO;

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum config_log_level level)
{
	atomic_store(&log_level, (int)level);
}

int log_enabled(enum config_log_level level)
{
	return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void log_write(enum config_log_level level, const char *fmt, ...)
{
	char line[2048];
	char when[32];
	va_list ap;
	int n, m;

	if (!log_enabled(level))
		return;
	n = snprintf(line, sizeof line, "%s %s ", clock_iso8601(clock_wall_ms(), when, sizeof when),
		     log_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere left to report it. */
	}
}
