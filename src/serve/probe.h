/* probe.h — `detourd --probe`: asks the detourd a configuration file describes whether it is alive (a container's HEALTHCHECK). */
#ifndef DETOUR_PROBE_H
#define DETOUR_PROBE_H

/* The whole probe of one GET, connect to answer. */
#define PROBE_TIMEOUT_MS 2000

/*
 * Reads server.listen from the file at path, GETs /health/live there (a
 * wildcard address is asked on loopback) within timeout_ms, and says what it
 * found on stdout or stderr. Returns the exit status: 0 for a 200, else 1.
 */
int probe_run(const char *path, unsigned timeout_ms);

#endif
