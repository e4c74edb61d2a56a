/* kdc-freeport: prints N (default 1) distinct free TCP ports on 127.0.0.1, one
 * per line, for tests and the demo to give to mosquitto.
 *
 * mosquitto cannot listen on port 0 (it takes "listener 0" for a unix socket),
 * so the caller needs a concrete number. The kernel picks it: bind port 0 and
 * read it back. All N sockets stay open until every port is known, so the N
 * numbers are distinct; they are closed before printing, so there is a short
 * window in which another process could take one (callers retry on "address
 * in use"). Only the loopback address is ever bound. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FREEPORT_MAX 16

static int freeport__open(unsigned short *port)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(addr.sin_port);
	return fd;
}

int main(int argc, char **argv)
{
	int fds[FREEPORT_MAX];
	unsigned short ports[FREEPORT_MAX];
	long n = 1;
	int opened = 0;
	int rc = 1;
	int i;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--help") == 0)) {
		fprintf(stderr, "usage: %s [COUNT]  (COUNT 1..%d free ports on 127.0.0.1)\n",
		        argv[0], FREEPORT_MAX);
		return 2;
	}
	if (argc == 2) {
		char *end = NULL;

		errno = 0;
		n = strtol(argv[1], &end, 10);
		if (errno != 0 || end == argv[1] || *end != '\0' || n < 1 || n > FREEPORT_MAX) {
			fprintf(stderr, "kdc-freeport: COUNT must be 1..%d, got '%s'\n",
			        FREEPORT_MAX, argv[1]);
			return 2;
		}
	}
	for (opened = 0; opened < n; opened++) {
		fds[opened] = freeport__open(&ports[opened]);
		if (fds[opened] < 0) {
			fprintf(stderr, "kdc-freeport: cannot bind 127.0.0.1:0: %s\n", strerror(errno));
			goto cleanup;
		}
	}
	rc = 0;

cleanup:
	for (i = 0; i < opened; i++)
		close(fds[i]);
	if (rc == 0) {
		for (i = 0; i < n; i++)
			printf("%u\n", (unsigned)ports[i]);
	}
	return rc;
}
