/* dblock.h: one aggregator per database, and no forget under a running one.
 *
 * `kdc-aggregator run` holds a write lock (fcntl F_SETLK, released by the
 * kernel when the process ends, even by SIGKILL) on the file PATH.lock next
 * to its database PATH, and writes its pid into it for people to read. The
 * ward's tools try the same lock without waiting: `forget` refuses while
 * somebody holds it; `register` and `void` work either way and only use the
 * answer to know whether the statistics are theirs to recompute (no
 * aggregator running) or the aggregator's (it reloads on its own).
 *
 * The lock file is created mode 0600; created by root, it is given to the
 * database file's owner, so that the service user can still open it. It is
 * never deleted (deleting a lock file races with the next one taking it). */
#ifndef KDC_DBLOCK_H
#define KDC_DBLOCK_H

#include <stddef.h>
#include <sys/types.h>

typedef struct kdc_dblock kdc_dblock;

/* Tries to take the lock of database path without waiting. Returns:
 *  - KDC_OK with *out set: held until kdc_dblock_release;
 *  - KDC_ERR_BUSY: another process holds it; *holder is its pid (0 when
 *    unknown);
 *  - KDC_ERR_IO: the lock file cannot be opened or locked (err says why).
 * With write_pid, the pid of this process is written into the file. */
int kdc_dblock_try(const char *path, int write_pid, kdc_dblock **out, pid_t *holder,
                   char *err, size_t errlen);
/* Releases and frees; NULL is fine. */
void kdc_dblock_release(kdc_dblock *l);

#endif
