/* config_routes.h — the configuration's upstreams and models: names, base URLs, routes and their targets. */
#ifndef DETOUR_CONFIG_ROUTES_H
#define DETOUR_CONFIG_ROUTES_H

#include <yaml.h>

struct config_reader;
struct config_key;

/*
 * Table readers (see struct config_key's read). Each returns 0, or -1 after a
 * message; what it allocated stays in base for config_free.
 */

/* upstreams (base: struct config): every upstream, with its defaults, in file order. */
int config_routes_read_upstreams(struct config_reader *r, const struct config_key *key,
				 const yaml_node_t *value, const yaml_node_t *keynode,
				 const yaml_node_t *where, void *base);

/* models (base: struct config): every route in file order; "*" becomes catch_all. Needs the upstreams read. */
int config_routes_read_models(struct config_reader *r, const struct config_key *key,
			      const yaml_node_t *value, const yaml_node_t *keynode,
			      const yaml_node_t *where, void *base);

/*
 * upstreams.NAME.base_url (base: struct config_upstream): an http:// or https://
 * URL without credentials, trailing slashes cut. A URL with user:password@ is
 * refused and never quoted in the message.
 */
int config_routes_read_base_url(struct config_reader *r, const struct config_key *key,
				const yaml_node_t *value, const yaml_node_t *keynode,
				const yaml_node_t *where, void *base);

/*
 * models.NAME.targets / reduced (base: struct config_route): a sequence of
 * targets read with key->section into the array at key->offset, its count at
 * key->aux. Empty is an error only for a CONFIG_TABLE_REQUIRED key.
 */
int config_routes_read_targets(struct config_reader *r, const struct config_key *key,
			       const yaml_node_t *value, const yaml_node_t *keynode,
			       const yaml_node_t *where, void *base);

/* A target's upstream (base: struct config_target): a name under upstreams, with a hint for a near miss. */
int config_routes_read_target_upstream(struct config_reader *r, const struct config_key *key,
				       const yaml_node_t *value, const yaml_node_t *keynode,
				       const yaml_node_t *where, void *base);

#endif
