/* notify.h — the service manager's notify protocol: datagrams to $NOTIFY_SOCKET (READY=1, STATUS=, WATCHDOG=1...), no libsystemd. */
#ifndef DETOUR_NOTIFY_H
#define DETOUR_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

/* The longest address a datagram goes to (sun_path's size, '@' included). */
#define NOTIFY_ADDRESS_MAX 108

/*
 * Sends message (one or more NAME=value lines) as one datagram to address: a
 * filesystem path, or "@name" for a name in the abstract namespace. Returns 0,
 * or -1 with errno set (ENAMETOOLONG for an address that cannot fit, EINVAL for
 * one that is neither a path nor '@'). Safe from any thread.
 */
int notify_send_to(const char *address, const char *message);

/*
 * Sends message to $NOTIFY_SOCKET. Returns 1 when sent, 0 when no service
 * manager listens (the variable is unset or empty), -1 with errno set.
 */
int notify_send(const char *message);

/*
 * The watchdog interval the service manager asks for, in microseconds, or 0
 * when there is none: $WATCHDOG_USEC, honoured only when $WATCHDOG_PID is
 * unset or names this process.
 */
uint64_t notify_watchdog_usec(void);

/* Writes "MONOTONIC_USEC=N" (CLOCK_MONOTONIC now) into buf; returns buf. For RELOADING=1. */
const char *notify_monotonic_usec(char *buf, size_t len);

#endif
