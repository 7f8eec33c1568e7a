#define _GNU_SOURCE
/* A tiny HTTP/1.1 keep-alive server for benchmarks: every request gets
 * "200 ok". epoll, non-blocking, one thread; request bodies are not expected.
 *   httpd PORT */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#define MAXC 65536
static char buf[MAXC][1024];
static int used[MAXC];
static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n";

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080, one = 1, zero = 0;
    int s = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_any };
    if (bind(s, (void *)&a, sizeof a) || listen(s, 1024)) { perror("bind"); return 1; }
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = s }, events[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    printf("listening\n"); fflush(stdout);
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == s) {
                int c;
                while ((c = accept4(s, 0, 0, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAXC) { close(c); continue; }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    used[c] = 0;
                    struct epoll_event e = { .events = EPOLLIN, .data.fd = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
                }
                continue;
            }
            for (;;) {
                int r = read(fd, buf[fd] + used[fd], sizeof buf[fd] - used[fd]);
                if (r == 0 || (r < 0 && errno != EAGAIN)) { close(fd); break; }
                if (r < 0) break;
                used[fd] += r;
                char *end;
                /* Answer each complete request head in the buffer. */
                while ((end = memmem(buf[fd], used[fd], "\r\n\r\n", 4))) {
                    int len = end + 4 - buf[fd];
                    if (write(fd, reply, sizeof reply - 1) < 0) break;
                    memmove(buf[fd], buf[fd] + len, used[fd] - len);
                    used[fd] -= len;
                }
                if (used[fd] == sizeof buf[fd]) used[fd] = 0;
            }
        }
    }
}
