/* dblock.c: the database's lock file. See dblock.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dblock.h"
#include "kdc_err.h"

struct kdc_dblock {
	int fd;
};

/* The pid written into the file (0 when it holds none). */
static pid_t dblock__pid_in_file(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	long v;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 ? (pid_t)v : 0;
}

int kdc_dblock_try(const char *path, int write_pid, kdc_dblock **out, pid_t *holder,
                   char *err, size_t errlen)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char lpath[4096], pid[32];
	struct stat st;
	kdc_dblock *l;
	int fd, created = 0;

	*out = NULL;
	*holder = 0;
	if (snprintf(lpath, sizeof lpath, "%s.lock", path) >= (int)sizeof lpath) {
		snprintf(err, errlen, "the database path is too long");
		return KDC_ERR_IO;
	}
	fd = open(lpath, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = open(lpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		created = fd >= 0;
		if (fd < 0 && errno == EEXIST)
			fd = open(lpath, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot open the lock file %s: %s", lpath, strerror(errno));
		return KDC_ERR_IO;
	}
	/* made by root for a database of the service user: give it to them */
	if (created && geteuid() == 0 && stat(path, &st) == 0 && st.st_uid != 0 &&
	    fchown(fd, st.st_uid, st.st_gid) != 0) {
		snprintf(err, errlen, "cannot give the lock file %s to the database's owner: %s", lpath,
		         strerror(errno));
		close(fd);
		return KDC_ERR_IO;
	}
	if (fcntl(fd, F_SETLK, &fl) != 0) {
		int e = errno;
		if (e == EAGAIN || e == EACCES) {
			struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
			if (fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK && q.l_pid > 0)
				*holder = q.l_pid;
			else
				*holder = dblock__pid_in_file(fd);
			close(fd);
			return KDC_ERR_BUSY;
		}
		snprintf(err, errlen, "cannot lock %s: %s", lpath, strerror(e));
		close(fd);
		return KDC_ERR_IO;
	}
	if (write_pid) {
		int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
			snprintf(err, errlen, "cannot write the lock file %s: %s", lpath, strerror(errno));
			close(fd);
			return KDC_ERR_IO;
		}
	}
	if (!(l = malloc(sizeof *l))) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return KDC_ERR_NOMEM;
	}
	l->fd = fd;
	*out = l;
	return KDC_OK;
}

void kdc_dblock_release(kdc_dblock *l)
{
	if (!l)
		return;
	close(l->fd); /* closing drops the process's locks on the file */
	free(l);
}
