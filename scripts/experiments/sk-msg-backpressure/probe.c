/*
 * A loopback connection to 127.0.0.1:47001 whose receiver never reads: how
 * much does a non-blocking sender get accepted before send() says EAGAIN?
 * Over TCP the receive window and send buffer stop it after a few MiB; the
 * question is what a sk_msg splice does. Stops at LIMIT_MIB either way.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LIMIT_MIB 512

int main(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(47001), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, listener = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1)) { perror("listen on 127.0.0.1:47001"); return 1; }
	int sender = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(sender, (struct sockaddr *)&addr, sizeof addr)) { perror("connect"); return 1; }
	int receiver = accept(listener, NULL, NULL);
	fcntl(sender, F_SETFL, O_NONBLOCK);

	static char chunk[1 << 16];
	memset(chunk, 'x', sizeof chunk);
	long accepted = 0;
	while (accepted < (long)LIMIT_MIB << 20) {
		ssize_t n = send(sender, chunk, sizeof chunk, 0);
		if (n < 0) break;
		accepted += n;
	}
	int rcvbuf = 0;
	socklen_t len = sizeof rcvbuf;
	getsockopt(receiver, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
	printf("accepted while the receiver read nothing: %.1f MiB (receiver SO_RCVBUF %d KiB%s)\n",
	       accepted / 1048576.0, rcvbuf / 1024, accepted >= (long)LIMIT_MIB << 20 ? ", stopped at the probe's limit" : "");
	return 0;
}
