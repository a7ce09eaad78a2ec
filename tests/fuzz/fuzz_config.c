/* fuzz_config.c — config_load_string on any bytes: a configuration that holds together, or a FILE:LINE:COL message. */
#include "fuzz.h"

#include "config.h"
#include "config_load.h"

/* What the rest of detour reads without checking again. */
static void fuzz_config_check(const struct config *cfg)
{
	size_t i, k;

	FUZZ_REQUIRE(cfg->server.workers > 0);
	FUZZ_REQUIRE(cfg->nupstreams > 0 && cfg->upstreams != NULL);
	for (i = 0; i < cfg->nupstreams; i++) {
		FUZZ_REQUIRE(cfg->upstreams[i].index == i);
		FUZZ_REQUIRE(config_find_upstream(cfg, cfg->upstreams[i].name) != NULL);
	}
	for (i = 0; i < cfg->nroutes; i++) {
		const struct config_route *r = &cfg->routes[i];

		FUZZ_REQUIRE(r->ntargets > 0 && r->ntargets <= CONFIG_MAX_TARGETS);
		FUZZ_REQUIRE(r->nreduced <= CONFIG_MAX_TARGETS);
		for (k = 0; k < r->ntargets; k++)
			FUZZ_REQUIRE(r->targets[k].upstream != NULL);
		for (k = 0; k < r->nreduced; k++)
			FUZZ_REQUIRE(r->reduced[k].upstream != NULL);
	}
	FUZZ_REQUIRE(config_level_servable(cfg, CONFIG_LEVEL_FULL));
	(void)config_level_name(cfg->degradation.mode);
	(void)config_fallback_status(&cfg->fallback_on, 503);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	char err[512];

	err[0] = '\0';
	if (config_load_string("fuzz.yaml", (const char *)data, size, &cfg, err, sizeof err) == 0) {
		FUZZ_REQUIRE(cfg != NULL);
		fuzz_config_check(cfg);
		config_free(cfg);
	} else {
		FUZZ_REQUIRE(cfg == NULL);
		FUZZ_REQUIRE(strncmp(err, "fuzz.yaml:", 10) == 0);
	}
	return 0;
}
