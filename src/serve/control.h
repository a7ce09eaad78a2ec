/* control.h — a running detourd seen from the command line: its pid file, and `-s reload` waiting for the reload's verdict. */
#ifndef DETOUR_CONTROL_H
#define DETOUR_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

/* How long `detourd -s reload` waits for the verdict: the daemon may still be draining a reload before. */
#define CONTROL_REPLY_TIMEOUT_MS 60000

/*
 * Writes "PID\n" to path (replacing what was there, mode 0644). Returns 0, or -1
 * with err filled.
 */
int control_pid_file_write(const char *path, pid_t pid, char *err, size_t errlen);

/* Removes path when it still holds pid (a successor may have written its own). */
void control_pid_file_remove(const char *path, pid_t pid);

/*
 * The address a reload's verdict goes to when process client sent the SIGHUP:
 * "@detourd-reload-PID", a name in the abstract namespace (nothing to clean up,
 * nothing the sandbox must let detourd write).
 */
void control_verdict_address(pid_t client, char *buf, size_t len);

/*
 * Tells process client (the sender of a SIGHUP) how its reload went; nothing
 * happens when it does not listen (a plain kill -HUP, or systemd's own).
 */
void control_send_verdict(pid_t client, int reloaded, const char *why);

/*
 * `detourd -s reload -c path`: finds the daemon ($MAINPID, else the file's
 * server.pid_file), sends it SIGHUP and waits up to timeout_ms for its verdict.
 * Prints it (stdout when reloaded, stderr when not) and returns the exit
 * status: 0 reloaded, 1 refused or no verdict.
 */
int control_reload(const char *path, unsigned timeout_ms);

#endif
