/* peers.c — open connections per client address, shared by every worker (they share one port), for server.max_connections_per_ip. */
#include "peers.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct peers_entry {
	struct peers_entry *next;
	unsigned char key[16];
	size_t len;
	unsigned count;
};

size_t peers_key(const struct sockaddr *sa, unsigned char key[16])
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		if (memcmp(a, mapped, sizeof mapped) == 0) {
			memcpy(key, a + 12, 4);
			return 4;
		}
		memcpy(key, a, 16);
		return 16;
	}
	return 0;
}

/* FNV-1a: the keys are addresses, not chosen to collide in a 1024-slot table worth attacking. */
static size_t peers_bucket(const unsigned char *key, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % PEERS_BUCKETS;
}

static struct peers_entry **peers_find(struct peers *p, const unsigned char *key, size_t len)
{
	struct peers_entry **e = &p->buckets[peers_bucket(key, len)];

	while (*e != NULL && !((*e)->len == len && memcmp((*e)->key, key, len) == 0))
		e = &(*e)->next;
	return e;
}

int peers_take(struct peers *p, const unsigned char *key, size_t len, unsigned cap)
{
	struct peers_entry **e;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	e = peers_find(p, key, len);
	if (cap == 0 || (*e != NULL && (*e)->count >= cap)) {
		rc = 1;
		goto done;
	}
	if (*e == NULL) {
		*e = calloc(1, sizeof **e);
		if (*e == NULL) {
			rc = -1;
			goto done;
		}
		memcpy((*e)->key, key, len);
		(*e)->len = len;
	}
	(*e)->count++;
done:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void peers_release(struct peers *p, const unsigned char *key, size_t len)
{
	struct peers_entry **e, *gone;

	pthread_mutex_lock(&p->lock);
	e = peers_find(p, key, len);
	if (*e != NULL && (*e)->count > 0 && --(*e)->count == 0) {
		gone = *e;
		*e = gone->next;
		free(gone);
	}
	pthread_mutex_unlock(&p->lock);
}

unsigned peers_count(struct peers *p, const unsigned char *key, size_t len)
{
	struct peers_entry **e;
	unsigned n;

	pthread_mutex_lock(&p->lock);
	e = peers_find(p, key, len);
	n = *e != NULL ? (*e)->count : 0;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void peers_clear(struct peers *p)
{
	size_t i;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < PEERS_BUCKETS; i++) {
		while (p->buckets[i] != NULL) {
			struct peers_entry *e = p->buckets[i];

			p->buckets[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_unlock(&p->lock);
}
