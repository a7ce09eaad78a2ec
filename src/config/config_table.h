/* config_table.h — a configuration section as one table of keys (name, type, limits, default, slot) that reads, checks and defaults it. */
#ifndef DETOUR_CONFIG_TABLE_H
#define DETOUR_CONFIG_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

struct config_reader;

enum config_table_type {
	CONFIG_TABLE_DURATION,    /* uint64_t milliseconds, min..576h */
	CONFIG_TABLE_SIZE,        /* size_t bytes, at least min */
	CONFIG_TABLE_UINT,        /* unsigned or size_t, min..max */
	CONFIG_TABLE_BOOL,        /* bool */
	CONFIG_TABLE_CHOICE,      /* an enum: the index of the word in choices */
	CONFIG_TABLE_FLAGS,       /* unsigned: a sequence of choices, bit i for choices[i] */
	CONFIG_TABLE_STRING,      /* char *, non-empty, one line unless CONFIG_TABLE_MULTILINE */
	CONFIG_TABLE_LISTEN,      /* "host:port": char *host here, uint16_t port at aux */
	CONFIG_TABLE_SECRET_ENV,  /* char *: the secret named by this key or by the next row's */
	CONFIG_TABLE_SECRET_FILE, /* the file half of the SECRET_ENV row before it; same slot */
	CONFIG_TABLE_MAP,         /* a mapping read with section into the struct at offset */
	CONFIG_TABLE_CUSTOM,      /* read by read; section (if any) is what its items hold */
};

#define CONFIG_TABLE_REQUIRED  0x1u /* absent is an error: "missing (required)" */
#define CONFIG_TABLE_MULTILINE 0x2u /* STRING: line breaks allowed (never sent in a header) */
#define CONFIG_TABLE_OR_OFF    0x4u /* MAP: the word off in its place sets the bool at aux (in the
				     * section's struct), then finish runs as for an absent map */

/*
 * Durations are capped at 576h (24 days) so that every timer in the daemon can
 * hold milliseconds in an int (poll, curl_multi_poll) without a check of its own.
 */
#define CONFIG_TABLE_DURATION_MAX (UINT64_C(576) * 3600 * 1000)

/* Where a row's value lives: offset and width of member in the section's struct. */
#define CONFIG_TABLE_SLOT(type, member) \
	.offset = offsetof(type, member), .width = sizeof(((type *)0)->member)

struct config_section;

/* One key of a section. */
struct config_key {
	const char *name;                     /* NULL ends a table */
	enum config_table_type type;
	size_t offset;                        /* the value's slot in the section's struct */
	size_t width;                         /* its sizeof: numbers are stored by width */
	size_t aux;                           /* LISTEN: the port's slot */
	uint64_t min, max;                    /* DURATION, SIZE, UINT */
	const char *def;                      /* the default as the file writes it; NULL: zero */
	const char *const *choices;           /* CHOICE, FLAGS: NULL-terminated, in enum order */
	const struct config_section *section; /* MAP; CUSTOM: what each item holds */
	unsigned flags;                       /* CONFIG_TABLE_* */
	/*
	 * CUSTOM: reads value (NULL when absent or null; keynode NULL when absent)
	 * into base. The path is at the key; where is the node a missing key is
	 * reported at. Returns 0, or -1 after a message.
	 */
	int (*read)(struct config_reader *r, const struct config_key *key, const yaml_node_t *value,
		    const yaml_node_t *keynode, const yaml_node_t *where, void *base);
};

/* A mapping's keys, in the order they are read (and hints are looked for). */
struct config_section {
	const char *name;                     /* its path, "upstreams.NAME.timeouts", for tests and docs */
	const struct config_key *keys;
	/*
	 * Run after the keys (map NULL when the section is absent): checks across
	 * keys and resolved values. Returns 0, or -1 after a message.
	 */
	int (*finish)(struct config_reader *r, const yaml_node_t *map, void *base);
};

/*
 * Checks a mapping's keys: each a string, none twice, and (when section is not
 * NULL) each a row of section, else "unknown key (did you mean ...?)". The path
 * is at the mapping.
 */
int config_table_check_keys(struct config_reader *r, const yaml_node_t *map,
			    const struct config_section *section);

/*
 * Reads map (NULL: every key absent) into base with section: the keys checked,
 * each row read in order, then finish. A required key that is absent is reported
 * at where. The path is at the section. Rows a map lacks keep what base holds.
 */
int config_table_read(struct config_reader *r, const yaml_node_t *map, const yaml_node_t *where,
		      const struct config_section *section, void *base);

/*
 * Writes every row's default (MAP rows: their section's) into base, which
 * holds no strings yet. Returns 0, or -1 when out of memory (strings written
 * so far stay in base for the caller to free).
 */
int config_table_defaults(const struct config_section *section, void *base);

#endif
