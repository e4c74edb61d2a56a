/* kdc-faultproxy: a fault-injecting TCP proxy for the fault suite.
 *
 * Sits between devices and the broker on 127.0.0.1: accepts on --listen,
 * connects each client to 127.0.0.1:--target and forwards bytes both ways,
 * while injecting the faults a flaky mobile network produces:
 *
 *   reset   each connection is reset (SO_LINGER 0 then close: both ends get
 *           an RST) after a random lifetime around --reset-every ms;
 *   stall   all forwarding stops for --stall-for ms, at random intervals
 *           around --stall-every ms counted from the first connection through
 *           to the target (connections stay open, bytes wait); a stall due
 *           while no connection is open waits for the next one;
 *   cut     each connection, after a random lifetime around --cut-every ms,
 *           forwards only a random prefix of the next chunk it reads and is
 *           then closed (a packet torn in the middle); --cut-side 1 tears
 *           only what the client sends, 2 only what the target sends;
 *   trickle every byte is written by its own send() with TCP_NODELAY, so the
 *           peer sees 1-byte segments;
 *   down    new connections are reset at once and live ones are reset: the
 *           network is gone;
 *   rate    each direction of each connection carries at most --rate bytes a
 *           second (a slow mobile link; not a fault by itself, but it makes
 *           traffic last long enough for the faults to meet it).
 *
 * Lifetimes count from the moment the connection to the target is made, so
 * a device that reconnects always gets time to talk (a sync needs about half
 * a second); faulting one random connection of all instead would starve the
 * last device left. Random choices come from --seed, so a run can be
 * repeated. Intervals are uniform in [0.5, 1.5] x the mean. The fault settings can be changed while
 * running: on SIGHUP the --control file is read again; it holds the same
 * options without dashes, one per line ("reset-every 2000", "trickle 1",
 * "down 1"; "#" starts a comment) and replaces every fault setting (a fault
 * absent from the file is off). Counts of faults injected go to --stats
 * (rewritten atomically at most every 200 ms and at exit), to stderr on
 * SIGUSR1, and to stderr at exit (SIGTERM or SIGINT).
 *
 * One thread, poll(). Only 127.0.0.1 is bound or connected to. The fault
 * settings and their table are in proxy_opts.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kdc_log.h"
#include "kdc_util.h"
#include "proxy_opts.h"

#define PROXY_MAX_CONNS 256
#define PROXY_BUF 65536
#define PROXY_POLL_MAX_MS 100
#define PROXY_STATS_EVERY_MS 200

struct proxy_counts {
	unsigned long long connections; /* accepted and connected to the target */
	unsigned long long refused;     /* reset at once: target down or "down" */
	unsigned long long resets;
	unsigned long long stalls;
	unsigned long long cuts;
	unsigned long long trickle_writes; /* 1-byte sends */
	unsigned long long bytes_up;       /* client -> target */
	unsigned long long bytes_down;     /* target -> client */
};

/* Bytes read from one side, waiting to be written to the other. */
struct proxy_buf {
	size_t off;
	size_t len;
	char data[PROXY_BUF];
};

struct proxy_conn {
	int cfd;             /* client side */
	int sfd;             /* target side */
	int connecting;      /* nonblocking connect to the target in progress */
	int c_eof, s_eof;    /* that side sent FIN */
	int cut_armed;       /* forward a prefix of the next chunk, then close */
	int64_t reset_at;    /* monotonic ms of its reset, 0 = none */
	int64_t cut_at;      /* monotonic ms its cut is armed, 0 = none */
	int64_t up_ready;    /* --rate: no write to the target before this ms */
	int64_t down_ready;  /* --rate: no write to the client before this ms */
	int close_after;     /* close once the cut prefix is written */
	struct proxy_buf up;   /* client -> target */
	struct proxy_buf down; /* target -> client */
};

struct proxy {
	int lfd;
	int listen_port;
	int target_port;
	const char *control_path;
	const char *stats_path;
	struct proxy_faults cli;    /* from the command line */
	struct proxy_faults faults; /* in force */
	struct proxy_counts counts;
	uint64_t rng;
	int64_t next_stall; /* monotonic ms, 0 = none */
	int64_t stalled_until;
	int64_t stats_written_at;
	int stats_dirty;
	struct proxy_conn *conns[PROXY_MAX_CONNS];
	int nconns;
};

static volatile sig_atomic_t proxy_stop;
static volatile sig_atomic_t proxy_reload;
static volatile sig_atomic_t proxy_print;

static void proxy__on_signal(int sig)
{
	if (sig == SIGHUP)
		proxy_reload = 1;
	else if (sig == SIGUSR1)
		proxy_print = 1;
	else
		proxy_stop = 1;
}

/* splitmix64: small, seedable, good enough to pick faults. */
static uint64_t proxy__rand(struct proxy *p)
{
	uint64_t z = (p->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [mean/2, 3*mean/2]. */
static int64_t proxy__interval(struct proxy *p, long long mean)
{
	uint64_t span = (uint64_t)mean + 1;

	return mean / 2 + (int64_t)(proxy__rand(p) % span);
}

/* ---- statistics --------------------------------------------------------------- */

static void proxy__format_counts(const struct proxy *p, char *buf, size_t len)
{
	const struct proxy_counts *c = &p->counts;

	snprintf(buf, len,
	         "connections %llu\nrefused %llu\nresets %llu\nstalls %llu\ncuts %llu\n"
	         "trickle_writes %llu\nbytes_up %llu\nbytes_down %llu\nlive %d\n",
	         c->connections, c->refused, c->resets, c->stalls, c->cuts,
	         c->trickle_writes, c->bytes_up, c->bytes_down, p->nconns);
}

static void proxy__write_stats(struct proxy *p, int force)
{
	char buf[512], tmp[4096];
	int64_t now = kdc_mono_ms();
	FILE *fp;

	if (p->stats_path == NULL || (!p->stats_dirty && !force))
		return;
	if (!force && now - p->stats_written_at < PROXY_STATS_EVERY_MS)
		return;
	proxy__format_counts(p, buf, sizeof(buf));
	snprintf(tmp, sizeof(tmp), "%s.tmp", p->stats_path);
	fp = fopen(tmp, "w");
	if (fp == NULL) {
		kdc_warn("cannot write %s: %s", tmp, strerror(errno));
		return;
	}
	fputs(buf, fp);
	if (fclose(fp) != 0 || rename(tmp, p->stats_path) != 0) {
		kdc_warn("cannot write %s: %s", p->stats_path, strerror(errno));
		return;
	}
	p->stats_written_at = now;
	p->stats_dirty = 0;
}

static void proxy__log_counts(const struct proxy *p)
{
	const struct proxy_counts *c = &p->counts;

	kdc_notice("faults injected: resets %llu, stalls %llu, cuts %llu, 1-byte writes %llu, "
	           "refused %llu; connections %llu, bytes up %llu, down %llu",
	           c->resets, c->stalls, c->cuts, c->trickle_writes, c->refused,
	           c->connections, c->bytes_up, c->bytes_down);
}

/* ---- connections ----------------------------------------------------------------- */

static int proxy__nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void proxy__nodelay(int fd)
{
	int one = 1;

	/* Failure only costs latency; the proxy still forwards. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Closes fd so that the peer gets an RST instead of a FIN. */
static void proxy__close_rst(int fd)
{
	struct linger lg = { 1, 0 };

	if (fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void proxy__drop(struct proxy *p, int i, int rst)
{
	struct proxy_conn *c = p->conns[i];

	if (rst) {
		proxy__close_rst(c->cfd);
		proxy__close_rst(c->sfd);
	} else {
		if (c->cfd >= 0)
			close(c->cfd);
		if (c->sfd >= 0)
			close(c->sfd);
	}
	free(c);
	p->conns[i] = p->conns[--p->nconns];
	p->conns[p->nconns] = NULL;
	p->stats_dirty = 1;
}

/* Sets a connection's reset and cut times from now (it just got through),
 * and the next stall if none is due: the stall clock runs from the moment
 * there is traffic to stall, not from the proxy's start. */
static void proxy__arm(struct proxy *p, struct proxy_conn *c, int64_t now)
{
	const struct proxy_faults *f = &p->faults;

	c->reset_at = f->reset_every > 0 ? now + proxy__interval(p, f->reset_every) : 0;
	c->cut_at = f->cut_every > 0 ? now + proxy__interval(p, f->cut_every) : 0;
	if (f->stall_every > 0 && p->next_stall == 0)
		p->next_stall = now + proxy__interval(p, f->stall_every);
}

/* Whether any connection is through to the target (a stall then holds
 * something back). */
static int proxy__has_traffic(const struct proxy *p)
{
	int i;

	for (i = 0; i < p->nconns; i++) {
		if (!p->conns[i]->connecting)
			return 1;
	}
	return 0;
}

static void proxy__accept(struct proxy *p)
{
	struct sockaddr_in addr;
	struct proxy_conn *c = NULL;
	int cfd, sfd = -1;

	cfd = accept(p->lfd, NULL, NULL);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			kdc_warn("accept: %s", strerror(errno));
		return;
	}
	if (p->faults.down || p->nconns >= PROXY_MAX_CONNS) {
		if (!p->faults.down)
			kdc_warn("%d connections open: refusing another", p->nconns);
		p->counts.refused++;
		p->stats_dirty = 1;
		proxy__close_rst(cfd);
		return;
	}
	sfd = socket(AF_INET, SOCK_STREAM, 0);
	if (sfd < 0 || proxy__nonblock(sfd) != 0 || proxy__nonblock(cfd) != 0) {
		kdc_warn("socket: %s", strerror(errno));
		goto refuse;
	}
	proxy__nodelay(cfd);
	proxy__nodelay(sfd);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((unsigned short)p->target_port);
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		kdc_error("out of memory for a connection");
		goto refuse;
	}
	c->cfd = cfd;
	c->sfd = sfd;
	if (connect(sfd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		if (errno != EINPROGRESS) {
			/* The target is down: the client sees a refusal, as it would
			 * without the proxy. */
			free(c);
			goto refuse;
		}
		c->connecting = 1;
	} else {
		proxy__arm(p, c, kdc_mono_ms());
	}
	p->conns[p->nconns++] = c;
	p->counts.connections++;
	p->stats_dirty = 1;
	return;

refuse:
	p->counts.refused++;
	p->stats_dirty = 1;
	proxy__close_rst(cfd);
	if (sfd >= 0)
		close(sfd);
}

/* Reads a chunk from `from` into b. Applies an armed cut (when `side` is the
 * one --cut-side names): only a random prefix of the chunk is kept and the
 * connection closes once it is written. Returns 0, or -1 when the connection
 * must be dropped with an RST. */
static int proxy__read(struct proxy *p, struct proxy_conn *c, int from, int side,
                       struct proxy_buf *b, int *eof)
{
	ssize_t n = read(from, b->data, sizeof(b->data));

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		return -1; /* ECONNRESET and friends: pass the reset on */
	}
	if (n == 0) {
		*eof = 1;
		return 0;
	}
	b->off = 0;
	b->len = (size_t)n;
	if (c->cut_armed && (p->faults.cut_side == 0 || p->faults.cut_side == side)) {
		b->len = n > 1 ? 1 + (size_t)(proxy__rand(p) % (uint64_t)(n - 1)) : 0;
		c->cut_armed = 0;
		c->close_after = 1;
	}
	return 0;
}

/* Writes what b holds to `to`: all it can, one byte in trickle mode, or
 * 50 ms worth under --rate (then *ready says when the next write may go).
 * Returns 0, or -1 when the connection must be dropped with an RST. */
static int proxy__write(struct proxy *p, int to, struct proxy_buf *b,
                        unsigned long long *bytes, int64_t *ready)
{
	size_t want = b->len - b->off;
	long long rate = p->faults.rate;
	ssize_t n;

	if (want == 0)
		return 0;
	if (rate > 0 && want > (size_t)(rate / 20 > 0 ? rate / 20 : 1))
		want = (size_t)(rate / 20 > 0 ? rate / 20 : 1);
	if (p->faults.trickle)
		want = 1;
	n = send(to, b->data + b->off, want, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		return -1;
	}
	if (p->faults.trickle)
		p->counts.trickle_writes++;
	if (rate > 0)
		*ready = kdc_mono_ms() + (int64_t)n * 1000 / rate;
	b->off += (size_t)n;
	*bytes += (unsigned long long)n;
	p->stats_dirty = 1;
	if (b->off == b->len)
		b->off = b->len = 0;
	return 0;
}

/* Handles poll results for connection i. Returns 1 if it was dropped. */
static int proxy__service(struct proxy *p, int i, short crev, short srev)
{
	struct proxy_conn *c = p->conns[i];
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->connecting) {
		if (!(srev & (POLLOUT | POLLERR | POLLHUP)))
			return 0;
		if (getsockopt(c->sfd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
			/* Connection refused by the target: count it as a refusal,
			 * not as a connection. */
			p->counts.connections--;
			p->counts.refused++;
			proxy__drop(p, i, 1);
			return 1;
		}
		c->connecting = 0;
		proxy__arm(p, c, kdc_mono_ms());
		return 0;
	}
	/* An error, or a hang-up that no read will notice because the buffer
	 * for that side is still full: the connection is over. */
	if ((crev | srev) & POLLERR)
		goto reset;
	if (((crev & POLLHUP) && !(crev & POLLIN)) || ((srev & POLLHUP) && !(srev & POLLIN)))
		goto reset;
	if ((crev & POLLIN) && c->up.len == 0 && !c->c_eof &&
	    proxy__read(p, c, c->cfd, 1, &c->up, &c->c_eof) != 0)
		goto reset;
	if ((srev & POLLIN) && c->down.len == 0 && !c->s_eof &&
	    proxy__read(p, c, c->sfd, 2, &c->down, &c->s_eof) != 0)
		goto reset;
	if ((srev & POLLOUT) &&
	    proxy__write(p, c->sfd, &c->up, &p->counts.bytes_up, &c->up_ready) != 0)
		goto reset;
	if ((crev & POLLOUT) &&
	    proxy__write(p, c->cfd, &c->down, &p->counts.bytes_down, &c->down_ready) != 0)
		goto reset;
	if (c->close_after && c->up.len == 0 && c->down.len == 0) {
		p->counts.cuts++;
		proxy__drop(p, i, 0);
		return 1;
	}
	/* A FIN travels on once everything before it has been written. */
	if (c->c_eof == 1 && c->up.len == 0) {
		(void)shutdown(c->sfd, SHUT_WR);
		c->c_eof = 2;
	}
	if (c->s_eof == 1 && c->down.len == 0) {
		(void)shutdown(c->cfd, SHUT_WR);
		c->s_eof = 2;
	}
	if (c->c_eof == 2 && c->s_eof == 2) {
		proxy__drop(p, i, 0);
		return 1;
	}
	return 0;

reset:
	proxy__drop(p, i, 1);
	return 1;
}

/* ---- fault timers --------------------------------------------------------------- */

static void proxy__fire(struct proxy *p, int64_t now)
{
	int i;

	for (i = p->nconns - 1; i >= 0; i--) {
		struct proxy_conn *c = p->conns[i];

		if (c->connecting || c->close_after)
			continue;
		if (c->reset_at != 0 && now >= c->reset_at) {
			p->counts.resets++;
			proxy__drop(p, i, 1);
			continue;
		}
		if (c->cut_at != 0 && now >= c->cut_at) {
			c->cut_armed = 1;
			c->cut_at = 0;
		}
	}
	if (p->next_stall != 0 && now >= p->next_stall && now >= p->stalled_until) {
		if (!proxy__has_traffic(p)) {
			/* Nothing to hold back: the next connection sets the clock. */
			p->next_stall = 0;
			return;
		}
		p->counts.stalls++;
		p->stats_dirty = 1;
		p->stalled_until = now + p->faults.stall_for;
		p->next_stall = p->stalled_until + proxy__interval(p, p->faults.stall_every);
	}
}

/* The earliest fault time after now, or `limit`. */
static int64_t proxy__next_wake(const struct proxy *p, int64_t now, int64_t limit)
{
	int64_t wake = limit;
	int i;

	for (i = 0; i < p->nconns; i++) {
		const struct proxy_conn *c = p->conns[i];

		if (c->reset_at != 0 && c->reset_at < wake)
			wake = c->reset_at;
		if (c->cut_at != 0 && c->cut_at < wake)
			wake = c->cut_at;
		if (c->up.len > 0 && c->up_ready > now && c->up_ready < wake)
			wake = c->up_ready;
		if (c->down.len > 0 && c->down_ready > now && c->down_ready < wake)
			wake = c->down_ready;
	}
	if (p->next_stall != 0 && p->next_stall < wake)
		wake = p->next_stall;
	if (now < p->stalled_until && p->stalled_until < wake)
		wake = p->stalled_until;
	return wake;
}

static void proxy__apply(struct proxy *p, const struct proxy_faults *f)
{
	int64_t now = kdc_mono_ms();
	int i;

	p->faults = *f;
	if (!f->stall_every)
		p->stalled_until = 0;
	if (f->down) {
		while (p->nconns > 0)
			proxy__drop(p, p->nconns - 1, 1);
	}
	p->next_stall = 0;
	for (i = 0; i < p->nconns; i++) {
		if (!p->conns[i]->connecting)
			proxy__arm(p, p->conns[i], now);
	}
	kdc_notice("faults: reset-every %lld, stall-every %lld (for %lld), cut-every %lld "
	           "(side %lld), trickle %lld, down %lld, rate %lld",
	           f->reset_every, f->stall_every, f->stall_for, f->cut_every, f->cut_side,
	           f->trickle, f->down, f->rate);
}

/* ---- main loop ------------------------------------------------------------------- */

static int proxy__listen(struct proxy *p)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int one = 1;

	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (p->lfd < 0)
		return -1;
	(void)setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((unsigned short)p->listen_port);
	if (bind(p->lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(p->lfd, 64) != 0 || proxy__nonblock(p->lfd) != 0 ||
	    getsockname(p->lfd, (struct sockaddr *)&addr, &len) != 0)
		return -1;
	p->listen_port = ntohs(addr.sin_port);
	return 0;
}

static int proxy__run(struct proxy *p)
{
	struct pollfd pfd[1 + 2 * PROXY_MAX_CONNS];

	while (!proxy_stop) {
		int64_t now = kdc_mono_ms(), wake = now + PROXY_POLL_MAX_MS;
		int stalled, n, i, nfds;

		if (proxy_reload) {
			struct proxy_faults f;

			proxy_reload = 0;
			if (p->control_path != NULL && proxy__read_control(p->control_path, &f) == 0)
				proxy__apply(p, &f);
		}
		if (proxy_print) {
			proxy_print = 0;
			proxy__log_counts(p);
		}
		proxy__fire(p, now);
		proxy__write_stats(p, 0);
		stalled = now < p->stalled_until;

		pfd[0].fd = p->lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < p->nconns; i++) {
			struct proxy_conn *c = p->conns[i];
			short ce = 0, se = 0;

			if (c->connecting) {
				se = POLLOUT;
			} else if (!stalled) {
				if (c->up.len == 0 && !c->c_eof && !c->close_after)
					ce |= POLLIN;
				if (c->down.len > 0 && now >= c->down_ready)
					ce |= POLLOUT;
				if (c->down.len == 0 && !c->s_eof && !c->close_after)
					se |= POLLIN;
				if (c->up.len > 0 && now >= c->up_ready)
					se |= POLLOUT;
			}
			/* A stalled connection is left out of poll() altogether:
			 * POLLHUP is reported even with no events asked for, and a
			 * peer that hung up would make the loop spin. */
			pfd[1 + 2 * i].fd = stalled && !c->connecting ? -1 : c->cfd;
			pfd[1 + 2 * i].events = ce;
			pfd[1 + 2 * i].revents = 0;
			pfd[2 + 2 * i].fd = stalled && !c->connecting ? -1 : c->sfd;
			pfd[2 + 2 * i].events = se;
			pfd[2 + 2 * i].revents = 0;
		}
		nfds = 1 + 2 * p->nconns;
		wake = proxy__next_wake(p, now, wake);
		n = poll(pfd, (nfds_t)nfds, wake > now ? (int)(wake - now) : 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			kdc_error("poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[0].revents & POLLIN)
			proxy__accept(p);
		/* Walk backwards: dropping i moves the last connection into slot i,
		 * and that one has been serviced already. Connections accepted just
		 * now sit beyond nfds and wait for the next round. */
		for (i = (nfds - 1) / 2 - 1; i >= 0; i--) {
			short crev = pfd[1 + 2 * i].revents, srev = pfd[2 + 2 * i].revents;

			if (stalled && !p->conns[i]->connecting)
				continue;
			proxy__service(p, i, crev, srev);
		}
	}
	return 0;
}

static void proxy__usage(FILE *out)
{
	fprintf(out,
	        "usage: kdc-faultproxy --target PORT [--listen PORT] [--seed N] [--control FILE]\n"
	        "                      [--stats FILE] [--port-file FILE] [fault options]\n"
	        "Forwards 127.0.0.1:LISTEN (0 = any free port, printed) to 127.0.0.1:TARGET and\n"
	        "injects faults. SIGHUP re-reads the control file, SIGUSR1 logs the counts.\n"
	        "Fault options (also the control file's lines, without dashes):\n");
	proxy__usage_faults(out);
}

int main(int argc, char **argv)
{
	struct proxy *p = NULL;
	struct sigaction sa;
	const char *port_file = NULL;
	long long v, seed = -1;
	int i, rc = 2;

	kdc_log_set_ident("kdc-faultproxy");
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return 1;
	p->lfd = -1;
	p->target_port = -1;
	proxy__faults_default(&p->cli);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0) {
			proxy__usage(stdout);
			rc = 0;
			goto cleanup;
		}
		if (strncmp(a, "--", 2) != 0 || val == NULL) {
			proxy__usage(stderr);
			goto cleanup;
		}
		i++;
		if (strcmp(a, "--listen") == 0 || strcmp(a, "--target") == 0) {
			if (kdc_parse_ll(val, a[2] == 'l' ? 0 : 1, 65535, &v) != 0) {
				kdc_error("%s must be a port number, got '%s'", a, val);
				goto cleanup;
			}
			if (a[2] == 'l')
				p->listen_port = (int)v;
			else
				p->target_port = (int)v;
		} else if (strcmp(a, "--seed") == 0) {
			if (kdc_parse_ll(val, 0, 0x7fffffffffffffffLL, &seed) != 0) {
				kdc_error("--seed must be a whole number, got '%s'", val);
				goto cleanup;
			}
		} else if (strcmp(a, "--control") == 0) {
			p->control_path = val;
		} else if (strcmp(a, "--stats") == 0) {
			p->stats_path = val;
		} else if (strcmp(a, "--port-file") == 0) {
			port_file = val;
		} else if (proxy__set_opt(&p->cli, a + 2, val, "command line") != 0) {
			goto cleanup;
		}
	}
	if (p->target_port < 0) {
		proxy__usage(stderr);
		goto cleanup;
	}
	if (seed < 0)
		seed = (long long)(kdc_now_ms() ^ ((int64_t)getpid() << 20));
	p->rng = (uint64_t)seed;
	p->faults = p->cli;
	if (p->control_path != NULL && access(p->control_path, R_OK) == 0 &&
	    proxy__read_control(p->control_path, &p->faults) != 0)
		goto cleanup;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = proxy__on_signal; /* no SA_RESTART: poll() must wake */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = 1;
	if (proxy__listen(p) != 0) {
		kdc_error("cannot listen on 127.0.0.1:%d: %s", p->listen_port, strerror(errno));
		goto cleanup;
	}
	if (port_file != NULL) {
		char buf[16];
		int len = snprintf(buf, sizeof(buf), "%d\n", p->listen_port);

		if (kdc_write_file_private(port_file, buf, (size_t)len) != 0) {
			kdc_error("cannot write %s", port_file);
			goto cleanup;
		}
	}
	printf("%d\n", p->listen_port);
	fflush(stdout);
	kdc_notice("forwarding 127.0.0.1:%d -> 127.0.0.1:%d, seed %lld", p->listen_port,
	           p->target_port, seed);
	proxy__apply(p, &p->faults);
	p->stats_dirty = 1;
	proxy__write_stats(p, 1);
	if (proxy__run(p) != 0)
		goto cleanup;
	rc = 0;

cleanup:
	if (p != NULL) {
		if (rc != 2) {
			proxy__write_stats(p, 1);
			proxy__log_counts(p);
		}
		while (p->nconns > 0)
			proxy__drop(p, p->nconns - 1, 0);
		if (p->lfd >= 0)
			close(p->lfd);
		free(p);
	}
	return rc;
}
