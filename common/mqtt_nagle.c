/* mqtt_nagle.c: Nagle's algorithm on kdc_mqtt's sockets (mqtt_int.h). */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "kdc_util.h"
#include "mqtt_int.h"

/* Paho never sets TCP_NODELAY and has no hook for socket options, so a small
 * QoS 1 publish or PUBACK can wait for Nagle's timer (TOOLCHAIN: a bursty
 * publisher stalled at 3.7k msg/s; receipts came 40 ms late). After each
 * connect, set it on every connected TCP socket of this process: they are
 * all MQTT connections of ours. They are remembered for mqtt__apply_nodelay.
 *
 * While a stream of messages arrives (an aggregator draining a backlog: one
 * PUBACK per message), NODELAY sends every 4-byte PUBACK as a segment of its
 * own, which cost the receive thread about 5 us per message and the broker
 * about 3 us more than with Nagle (which packs the PUBACKs of a burst into
 * one segment, and waits only for ACKs that the stream brings at once). So
 * NODELAY is off during a stream and back on, which also sends whatever
 * Nagle still holds, as soon as the stream pauses. */
void kdc_mqtt__nodelay_all(kdc_mqtt *m)
{
	int one = 1;

	pthread_mutex_lock(&m->lock);
	m->nfds = 0;
	atomic_store(&m->streaming, 0);
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof peer;
		int type = 0;
		socklen_t tlen = sizeof type;

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM)
			continue;
		if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0 ||
		    (peer.ss_family != AF_INET && peer.ss_family != AF_INET6))
			continue;
		/* best effort: a socket closed meanwhile just fails */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (m->nfds < MQTT_MAX_FDS)
			m->fds[m->nfds++] = fd;
	}
	pthread_mutex_unlock(&m->lock);
}

/* Sets NODELAY on the remembered sockets to what m->streaming now asks for
 * (read under the lock, so that the last of two racing switches wins with the
 * latest state). Any thread; no Paho call. */
void kdc_mqtt__apply_nodelay(kdc_mqtt *m)
{
	int on;

	pthread_mutex_lock(&m->lock);
	on = !atomic_load(&m->streaming);
	for (int i = 0; i < m->nfds; i++)
		(void)setsockopt(m->fds[i], IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	pthread_mutex_unlock(&m->lock);
}

/* Receive thread, per message: MQTT_STREAM_MSGS within MQTT_STREAM_MS start a
 * stream. One clock read per message. */
void kdc_mqtt__stream_rx(kdc_mqtt *m)
{
	int64_t now = kdc_mono_ms();
	int idle = 0;

	atomic_store_explicit(&m->rx_last_ms, now, memory_order_relaxed);
	if (now - m->rx_t0 > MQTT_STREAM_MS) {
		m->rx_t0 = now;
		m->rx_n = 0;
	}
	if (++m->rx_n >= MQTT_STREAM_MSGS &&
	    atomic_compare_exchange_strong(&m->streaming, &idle, 1))
		kdc_mqtt__apply_nodelay(m);
}

/* Owner thread, each tick: a stream that paused for MQTT_QUIET_MS ends. */
void kdc_mqtt__stream_check(kdc_mqtt *m, int64_t now)
{
	int streaming = 1;

	if (atomic_load(&m->streaming) &&
	    now - atomic_load_explicit(&m->rx_last_ms, memory_order_relaxed) >= MQTT_QUIET_MS &&
	    atomic_compare_exchange_strong(&m->streaming, &streaming, 0))
		kdc_mqtt__apply_nodelay(m);
}
