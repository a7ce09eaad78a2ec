/* log.h — one line per event on stderr (journald or the container runtime collects it). */
#ifndef DETOUR_LOG_H
#define DETOUR_LOG_H

#include <stddef.h>
#include <stdint.h>

/* Severities, least first; lines below the configured one are dropped. */
enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* How a line is written: logfmt (`ts=… level=… msg="…" key=value`) or one JSON object. */
enum log_format {
	LOG_FORMAT_LOGFMT,
	LOG_FORMAT_JSON,
};

/* The longest line, newline included; a longer one is cut (and still parses). */
#define LOG_LINE_MAX 4096
/* The most fields one line carries; later ones are dropped. */
#define LOG_FIELDS_MAX 32

enum log_field_kind {
	LOG_FIELD_END,   /* ends a log_emit argument list */
	LOG_FIELD_STR,   /* a NULL string leaves the field out */
	LOG_FIELD_UINT,
	LOG_FIELD_INT,
	LOG_FIELD_BOOL,
	LOG_FIELD_SKIP,  /* left out: a field with no value this time */
};

/* One key=value of a line. Keys are fixed words of the code ([a-z_]); values
 * are anything, escaped by the writer. Made with LOG_STR and its kin. */
struct log_field {
	const char *key;
	enum log_field_kind kind;
	union {
		const char *s;
		unsigned long long u;
		long long i;
		int b;
	} v;
};

#define LOG_STR(k, x)  ((struct log_field){ .key = (k), .kind = LOG_FIELD_STR, .v.s = (x) })
#define LOG_UINT(k, x) ((struct log_field){ .key = (k), .kind = LOG_FIELD_UINT, .v.u = (unsigned long long)(x) })
#define LOG_INT(k, x)  ((struct log_field){ .key = (k), .kind = LOG_FIELD_INT, .v.i = (long long)(x) })
#define LOG_BOOL(k, x) ((struct log_field){ .key = (k), .kind = LOG_FIELD_BOOL, .v.b = (x) ? 1 : 0 })
/* A number written only when present is true. */
#define LOG_UINT_IF(k, present, x) \
	((struct log_field){ .key = (k), .kind = (present) ? LOG_FIELD_UINT : LOG_FIELD_SKIP, \
			     .v.u = (unsigned long long)(x) })
#define LOG_END        ((struct log_field){ .key = NULL, .kind = LOG_FIELD_END, .v.u = 0 })

/* Lines below level are dropped. Safe to call before any configuration. */
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

/* Picks logfmt (the default) or JSON lines. Safe to call at any time. */
void log_set_format(enum log_format format);

/*
 * Whether journal_stream ($JOURNAL_STREAM, "DEV:INODE") names the stream with
 * that device and inode; 0 for NULL or anything malformed.
 */
int log_journal_matches(const char *journal_stream, unsigned long long dev, unsigned long long ino);

/*
 * Looks once whether stderr is journald's stream ($JOURNAL_STREAM matches its
 * device and inode). From then on each line starts with its syslog priority
 * ("<3>", "<4>", "<6>", "<7>") and carries no ts: journald keeps both. Call at
 * start, before any thread.
 */
void log_detect_journal(void);

/*
 * Writes one line into dst (cap bytes, at most LOG_LINE_MAX are used) and
 * returns its length, newline included; dst is not NUL-terminated. The line
 * is `ts=TIME level=LEVEL msg="MSG" key=value ...` (logfmt: a value is quoted
 * when it holds anything but plain printable ASCII without `=` or `"`) or
 * `{"ts":…,"level":…,"msg":…,"key":value,…}`. journal: "<PRIORITY>" first and
 * no ts. Inside quotes `"` and `\` are escaped, CR, LF and tab as \r \n \t,
 * other control bytes as \u00XX and bytes that are not UTF-8 as \ufffd, so a
 * line is always one line whatever a client sent. A key already written (ts,
 * level, msg included) is not written again; a NULL string leaves its field
 * out. A line too long is cut inside a value, which is still closed. Pure.
 */
size_t log_format_line(char *dst, size_t cap, enum log_format format, int journal, enum log_level level,
		       uint64_t wall_ms, const char *msg, const struct log_field *fields, size_t nfields);

/*
 * Writes msg and the fields that follow it (struct log_field values, ended by
 * LOG_END: use log_event, which adds it) as one line with one write(2), so
 * lines from several threads never interleave. Callers must never pass a secret.
 */
void log_emit(enum log_level level, const char *msg, ...);

#define log_event(level, ...) log_emit((level), __VA_ARGS__, LOG_END)
#define log_debug(...) log_event(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_event(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_event(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_event(LOG_LEVEL_ERROR, __VA_ARGS__)

/*
 * Copies src[0..len) into dst (cap bytes, not NUL-terminated) with \n, \r,
 * \t and every other byte below 0x20 or 0x7f written as a visible escape
 * (\n, \r, \t, \xNN). Stops before an escape that does not fit. Returns the
 * bytes written. For text shown outside a log line (a status message).
 */
size_t log_escape(char *dst, size_t cap, const char *src, size_t len);

#endif
