#define _GNU_SOURCE
/* HTTP/1.1 keep-alive latency at a fixed rate on one connection:
 *   httprr HOST PORT RATE COUNT   → p50_us=… p99_us=… (RATE 0: back to back) */
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000L + t.tv_nsec; }
static int cmp(const void *a, const void *b) { long x = *(long *)a, y = *(long *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: httprr HOST PORT RATE COUNT\n"); return 2; }
    double rate = atof(argv[3]);
    int count = atoi(argv[4]), one = 1;
    struct addrinfo *ai, hints = { .ai_socktype = SOCK_STREAM };
    if (getaddrinfo(argv[1], argv[2], &hints, &ai)) return 1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen)) { perror("connect"); return 1; }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[256], resp[4096];
    int rl = snprintf(req, sizeof req, "GET /bench HTTP/1.1\r\nHost: %s\r\n\r\n", argv[1]);
    long *lat = calloc(count, sizeof(long)), start = now_ns();
    for (int i = -200; i < count; i++) {
        if (rate > 0 && i >= 0) {
            long due = start + (long)(i * 1e9 / rate);
            while (now_ns() < due) { struct timespec s = { 0, 20000 }; nanosleep(&s, 0); }
        }
        long t0 = now_ns();
        if (write(fd, req, rl) != rl) return 1;
        int got = 0, body = -1, head = -1;
        for (;;) {
            int r = read(fd, resp + got, sizeof resp - got - 1);
            if (r <= 0) { fprintf(stderr, "connection lost\n"); return 1; }
            got += r; resp[got] = 0;
            char *e = strstr(resp, "\r\n\r\n");
            if (e && head < 0) {
                head = e + 4 - resp;
                char *cl = strcasestr(resp, "content-length:");
                body = cl ? atoi(cl + 15) : 0;
            }
            if (head >= 0 && got >= head + body) break;
        }
        if (i == -1) start = now_ns();  /* warm-up done */
        if (i >= 0) lat[i] = now_ns() - t0;
    }
    double secs = (now_ns() - start) / 1e9;
    qsort(lat, count, sizeof(long), cmp);
    printf("p50_us=%.1f p99_us=%.1f rps=%.0f\n", lat[count / 2] / 1e3, lat[count * 99 / 100] / 1e3, count / secs);
    return 0;
}
