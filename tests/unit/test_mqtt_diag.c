/* test_mqtt_diag: the connection causes without a broker: broker URLs split
 * into host and port, one exit status per cause, and the diagnosis of a name
 * that cannot resolve and of a loopback port nobody listens on. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "kdc_err.h"
#include "mqtt_diag.h"

static void split(const char *uri, const char *host, const char *port, int tls)
{
	char h[256], p[16];
	int t = -1;

	if (kdc_mqtt__split_uri(uri, h, sizeof h, p, sizeof p, &t) != 0)
		fail_msg("'%s' was not split", uri);
	assert_string_equal(h, host);
	assert_string_equal(p, port);
	assert_int_equal(t, tls);
}

static void test_split_uri(void **state)
{
	char h[256], p[16];
	int t;

	(void)state;
	split("tcp://127.0.0.1:1883", "127.0.0.1", "1883", 0);
	split("ssl://ward.example.vn", "ward.example.vn", "8883", 1);
	split("mqtts://ward.example.vn:9000", "ward.example.vn", "9000", 1);
	split("wss://ward.example.vn/mqtt", "ward.example.vn", "443", 1);
	split("ws://[::1]:8080/mqtt", "::1", "8080", 0);
	assert_int_equal(kdc_mqtt__split_uri("http://x:1", h, sizeof h, p, sizeof p, &t), -1);
	assert_int_equal(kdc_mqtt__split_uri("tcp://:1883", h, sizeof h, p, sizeof p, &t), -1);
	assert_int_equal(kdc_mqtt__split_uri("tcp://[::1:1883", h, sizeof h, p, sizeof p, &t), -1);
}

static void test_exit_statuses(void **state)
{
	static const int causes[] = {
		KDC_ERR_HOST_NOT_FOUND, KDC_ERR_CONN_REFUSED, KDC_ERR_NO_ANSWER,
		KDC_ERR_TLS_UNKNOWN_CA, KDC_ERR_TLS_NAME, KDC_ERR_TLS_EXPIRED, KDC_ERR_TLS,
		KDC_ERR_LOGIN_REFUSED, KDC_ERR_TOPIC_REFUSED, KDC_ERR_BROKER_REFUSED,
	};
	int seen[256] = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof causes / sizeof causes[0]; i++) {
		int st = kdc_err_exit_status(causes[i]);
		if (st < 10 || st > 19 || seen[st]++)
			fail_msg("%s: exit status %d is not its own in 10-19", kdc_strerror(causes[i]), st);
		assert_string_not_equal(kdc_strerror(causes[i]), "unknown error");
	}
	assert_int_equal(kdc_err_exit_status(KDC_ERR_TIMEOUT), 0);
	assert_int_equal(kdc_err_exit_status(KDC_OK), 0);
	assert_true(kdc_err_needs_fix(KDC_ERR_LOGIN_REFUSED));
	assert_true(kdc_err_needs_fix(KDC_ERR_TLS_NAME));
	assert_false(kdc_err_needs_fix(KDC_ERR_CONN_REFUSED));
	assert_false(kdc_err_needs_fix(KDC_ERR_TOPIC_REFUSED));
}

static int dead_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void test_diagnose(void **state)
{
	char uri[64], detail[768], want[64];
	int port = dead_port();

	(void)state;
	/* RFC 6761: .invalid never resolves */
	assert_int_equal(kdc_mqtt__diagnose("ssl://broker.invalid:8883", NULL, detail, sizeof detail),
	                 KDC_ERR_HOST_NOT_FOUND);
	assert_non_null(strstr(detail, "host not found: the broker's name 'broker.invalid'"));
	snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", port);
	assert_int_equal(kdc_mqtt__diagnose(uri, NULL, detail, sizeof detail), KDC_ERR_CONN_REFUSED);
	snprintf(want, sizeof want, "nothing listens on port %d of 127.0.0.1", port);
	if (!strstr(detail, want))
		fail_msg("expected '%s' in '%s'", want, detail);
	assert_int_equal(kdc_mqtt__diagnose("nonsense", NULL, detail, sizeof detail), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_uri),
		cmocka_unit_test(test_exit_statuses),
		cmocka_unit_test(test_diagnose),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
