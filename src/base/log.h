/* log.h — one line per event on stderr (journald or the container runtime collects it). */
#ifndef DETOUR_LOG_H
#define DETOUR_LOG_H

#include <stddef.h>

/* Severities, least first; lines below the configured one are dropped. */
enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* Lines below level are dropped. Safe to call before any configuration. */
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

/*
 * Whether journal_stream ($JOURNAL_STREAM, "DEV:INODE") names the stream with
 * that device and inode; 0 for NULL or anything malformed.
 */
int log_journal_matches(const char *journal_stream, unsigned long long dev, unsigned long long ino);

/*
 * Looks once whether stderr is journald's stream ($JOURNAL_STREAM matches its
 * device and inode). From then on each line starts with its syslog priority
 * ("<3>error ...", "<4>warn", "<6>info", "<7>debug") and no timestamp:
 * journald keeps both. Call at start, before any thread.
 */
void log_detect_journal(void);

/* Writes "TIME LEVEL message\n" (or "<PRIORITY>LEVEL message\n" to journald) with one write(2), so lines from several
 * threads never interleave. Messages longer than 2 KiB are cut. Control bytes
 * in the message (CR, LF, ESC...) are escaped with log_escape, so a line is
 * always one line whatever a client sent. Callers must never pass a secret. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Copies src[0..len) into dst (cap bytes, not NUL-terminated) with \n, \r,
 * \t and every other byte below 0x20 or 0x7f written as a visible escape
 * (\n, \r, \t, \xNN). Stops before an escape that does not fit. Returns the
 * bytes written.
 */
size_t log_escape(char *dst, size_t cap, const char *src, size_t len);

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
