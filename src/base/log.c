/* log.c — one line per event on stderr (journald or the container runtime collects it). */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"

static atomic_int log_level = LOG_LEVEL_INFO;
static atomic_int log_format = LOG_FORMAT_LOGFMT;

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

void log_set_format(enum log_format format)
{
	atomic_store(&log_format, (int)format);
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

/* A line being written: every put is whole or not at all. */
struct log_out {
	char *p;
	size_t len;
	size_t cap;
};

static bool log_put(struct log_out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap)
		return false;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	return true;
}

static bool log_put_str(struct log_out *o, const char *s)
{
	return log_put(o, s, strlen(s));
}

/* The length of the well-formed UTF-8 sequence at s (1..4), or 0 when the
 * byte there starts none (overlong forms and surrogates included). */
static size_t log_utf8_length(const unsigned char *s, size_t left)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) || (s[0] == 0xf0 && s[1] < 0x90) ||
	    (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* Writes s[0..len) escaped for the inside of a quoted logfmt or JSON string
 * (the two agree), unit by unit while they fit under limit. Returns whether
 * all of it went in. */
static bool log_put_escaped(struct log_out *o, const char *s, size_t len, size_t limit)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		char esc[8];
		const char *unit = esc;
		size_t k = 0, take = 1;
		unsigned char c = u[i];

		if (c == '"' || c == '\\') {
			esc[k++] = '\\';
			esc[k++] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			esc[k++] = '\\';
			esc[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			k = 6;
		} else if ((take = log_utf8_length(u + i, len - i)) == 0) {
			memcpy(esc, "\\ufffd", 6);
			k = 6;
			take = 1;
		} else {
			unit = s + i;
			k = take;
		}
		if (o->len + k > limit)
			return false;
		memcpy(o->p + o->len, unit, k);
		o->len += k;
		i += take;
	}
	return true;
}

/* Whether a logfmt value must be quoted to read back as itself. */
static bool log_needs_quotes(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	if (*u == '\0')
		return true;
	for (; *u != '\0'; u++)
		if (*u <= ' ' || *u == '=' || *u == '"' || *u == '\\' || *u >= 0x7f)
			return true;
	return false;
}

/* Writes a string value, quoted when needed; a value too long is cut, and its
 * quotes closed, within o->cap. Returns whether it went in whole. */
static bool log_put_string_value(struct log_out *o, enum log_format format, const char *s)
{
	bool whole;

	if (format == LOG_FORMAT_LOGFMT && !log_needs_quotes(s))
		return log_put_escaped(o, s, strlen(s), o->cap);
	if (!log_put(o, "\"", 1))
		return false;
	whole = log_put_escaped(o, s, strlen(s), o->cap - 1);
	o->p[o->len++] = '"';
	return whole;
}

/* Writes one field; returns whether it went in whole (the line ends if not). */
static bool log_put_field(struct log_out *o, enum log_format format, const struct log_field *f)
{
	char number[32];
	size_t mark = o->len;
	bool ok;

	if (format == LOG_FORMAT_JSON)
		ok = log_put_str(o, ",\"") && log_put_str(o, f->key) && log_put_str(o, "\":");
	else
		ok = log_put(o, " ", 1) && log_put_str(o, f->key) && log_put(o, "=", 1);
	/* A key needs room for at least the shortest value after it. */
	if (!ok || o->len + 2 > o->cap) {
		o->len = mark;
		return false;
	}
	switch (f->kind) {
	case LOG_FIELD_STR:
		return log_put_string_value(o, format, f->v.s);
	case LOG_FIELD_UINT:
		snprintf(number, sizeof number, "%llu", f->v.u);
		break;
	case LOG_FIELD_INT:
		snprintf(number, sizeof number, "%lld", f->v.i);
		break;
	default:
		snprintf(number, sizeof number, "%s", f->v.b ? "true" : "false");
		break;
	}
	if (!log_put_str(o, number)) {
		o->len = mark;
		return false;
	}
	return true;
}

/* Whether key is one of the line's own or of fields[0..n). */
static bool log_key_taken(const char *key, const struct log_field *fields, size_t n)
{
	size_t i;

	if (strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 || strcmp(key, "msg") == 0)
		return true;
	for (i = 0; i < n; i++)
		if (fields[i].kind != LOG_FIELD_END && fields[i].kind != LOG_FIELD_SKIP && strcmp(fields[i].key, key) == 0 &&
		    !(fields[i].kind == LOG_FIELD_STR && fields[i].v.s == NULL))
			return true;
	return false;
}

size_t log_format_line(char *dst, size_t cap, enum log_format format, int journal, enum log_level level,
		       uint64_t wall_ms, const char *msg, const struct log_field *fields, size_t nfields)
{
	/* Room kept for what closes the line: "}\n" or "\n". */
	size_t tail = format == LOG_FORMAT_JSON ? 2 : 1;
	struct log_out o = { dst, 0, 0 };
	char head[64], when[32];
	size_t i;
	bool more = true;

	if (cap > LOG_LINE_MAX)
		cap = LOG_LINE_MAX;
	if (cap < sizeof head + tail)
		return 0;
	o.cap = cap - tail;
	/* journald stamps each line itself and reads its priority from "<N>". */
	if (journal)
		o.len = (size_t)snprintf(dst, cap, "<%d>", log_priorities[level]);
	clock_iso8601(wall_ms, when, sizeof when);
	if (format == LOG_FORMAT_JSON)
		snprintf(head, sizeof head, "{%s%s%s\"level\":\"%s\",\"msg\":", journal ? "" : "\"ts\":\"",
			 journal ? "" : when, journal ? "" : "\",", log_names[level]);
	else
		snprintf(head, sizeof head, "%s%s%slevel=%s msg=", journal ? "" : "ts=", journal ? "" : when,
			 journal ? "" : " ", log_names[level]);
	log_put_str(&o, head);
	/* msg is always quoted, so a reader finds it in the same shape every time. */
	if (log_put(&o, "\"", 1)) {
		more = log_put_escaped(&o, msg, strlen(msg), o.cap - 1);
		o.p[o.len++] = '"';
	}
	for (i = 0; more && i < nfields && i < LOG_FIELDS_MAX; i++) {
		const struct log_field *f = &fields[i];

		if (f->kind == LOG_FIELD_END || f->kind == LOG_FIELD_SKIP || (f->kind == LOG_FIELD_STR && f->v.s == NULL) ||
		    log_key_taken(f->key, fields, i))
			continue;
		more = log_put_field(&o, format, f);
	}
	if (format == LOG_FORMAT_JSON)
		dst[o.len++] = '}';
	dst[o.len++] = '\n';
	return o.len;
}

void log_emit(enum log_level level, const char *msg, ...)
{
	struct log_field fields[LOG_FIELDS_MAX];
	char line[LOG_LINE_MAX];
	size_t n = 0, len;
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, msg);
	for (;;) {
		struct log_field f = va_arg(ap, struct log_field);

		if (f.kind == LOG_FIELD_END)
			break;
		if (n < LOG_FIELDS_MAX)
			fields[n++] = f;
	}
	va_end(ap);
	len = log_format_line(line, sizeof line, (enum log_format)atomic_load_explicit(&log_format, memory_order_relaxed),
			      log_journal, level, clock_wall_ms(), msg, fields, n);
	if (write(STDERR_FILENO, line, len) < 0) {
		/* Nowhere left to report it. */
	}
}
