/* peers.h — open connections per client address, shared by every worker (they share one port), for server.max_connections_per_ip. */
#ifndef DETOUR_PEERS_H
#define DETOUR_PEERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define PEERS_BUCKETS 1024

struct peers_entry;

/*
 * A hash of client address -> open connections, under one mutex (taken
 * twice per connection: at accept and at close, never on a request). An
 * address with no connection left has no entry, so the table holds at most
 * as many entries as there are open connections.
 */
struct peers {
	pthread_mutex_t lock;
	struct peers_entry *buckets[PEERS_BUCKETS];
};

#define PEERS_INITIALIZER { PTHREAD_MUTEX_INITIALIZER, { NULL } }

/* The key of a client address: the 4 bytes of IPv4 (IPv4-mapped IPv6
 * included) or the 16 of IPv6. Returns its length, 0 for another family. */
size_t peers_key(const struct sockaddr *sa, unsigned char key[16]);

/*
 * Counts one more connection from key when fewer than cap are open. Returns
 * 0 when taken, 1 when the address already has cap (nothing changes), -1
 * when out of memory (nothing changes; the caller decides).
 */
int peers_take(struct peers *p, const unsigned char *key, size_t len, unsigned cap);

/* Counts one connection from key gone; harmless for a key never taken. */
void peers_release(struct peers *p, const unsigned char *key, size_t len);

/* Open connections counted for key. */
unsigned peers_count(struct peers *p, const unsigned char *key, size_t len);

/* Frees every entry (tests; the daemon's table lives as long as the process). */
void peers_clear(struct peers *p);

#endif
