/* log.c — one line per event on stderr (journald or the container runtime collects it). */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"

static atomic_int log_level = LOG_LEVEL_INFO;

static const char *const log_names[] = { "debug", "info", "warn", "error" };

/* syslog(3)'s priorities: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR. */
static const int log_priorities[] = { 7, 6, 4, 3 };

/* Set once at start, before any thread: stderr is journald's stream. */
static int log_journal;

int log_journal_matches(const char *journal_stream, unsigned long long dev, unsigned long long ino)
{
	unsigned long long want_dev, want_ino;
	char end;

	if (journal_stream == NULL || sscanf(journal_stream, "%llu:%llu%c", &want_dev, &want_ino, &end) != 2)
		return 0;
	return want_dev == dev && want_ino == ino;
}

void log_detect_journal(void)
{
	struct stat st;

	/* A child of detourd's shell, or stderr redirected elsewhere, keeps the
	 * variable while writing to another file: compare the very stream. */
	log_journal = fstat(STDERR_FILENO, &st) == 0 &&
		      log_journal_matches(getenv("JOURNAL_STREAM"), (unsigned long long)st.st_dev,
					  (unsigned long long)st.st_ino);
}

void log_set_level(enum log_level level)
{
	atomic_store(&log_level, (int)level);
}

int log_enabled(enum log_level level)
{
	return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

size_t log_escape(char *dst, size_t cap, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		char esc[4];
		size_t k = 0;

		if (c == '\n' || c == '\r' || c == '\t') {
			esc[k++] = '\\';
			esc[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f) {
			esc[k++] = '\\';
			esc[k++] = 'x';
			esc[k++] = hex[c >> 4];
			esc[k++] = hex[c & 0xf];
		} else {
			esc[k++] = (char)c;
		}
		/* Cut before an escape that does not fit whole. */
		if (n + k > cap)
			break;
		memcpy(dst + n, esc, k);
		n += k;
	}
	return n;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	char message[2048];
	char line[2048];
	char when[32];
	va_list ap;
	int n, m;

	if (!log_enabled(level))
		return;
	/* journald stamps each line itself and reads its priority from "<N>". */
	if (log_journal)
		n = snprintf(line, sizeof line, "<%d>%s ", log_priorities[level], log_names[level]);
	else
		n = snprintf(line, sizeof line, "%s %s ", clock_iso8601(clock_wall_ms(), when, sizeof when),
			     log_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if (m > (int)sizeof message - 1)
		m = (int)sizeof message - 1;
	/* Every line is escaped here, so no caller can let a client's CR or LF
	 * (a path, a model name, an upstream's text) start a forged line. */
	n += (int)log_escape(line + n, sizeof line - (size_t)n - 1, message, (size_t)m);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere left to report it. */
	}
}
