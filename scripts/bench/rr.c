/* Request/response latency: the client sends SIZE bytes and waits for SIZE back,
 * N times, and prints percentiles in microseconds. The server echoes.
 * Connection rate: PARALLEL processes each connect, exchange SIZE bytes once
 * and close, over and over for SECONDS; prints connections per second.
 *   rr server PORT            rr client HOST PORT N SIZE
 *   rr cps HOST PORT SECONDS PARALLEL SIZE */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int full(int fd, char *buf, int size, int writing) {
    int done = 0;
    while (done < size) {
        int n = writing ? write(fd, buf + done, size - done) : read(fd, buf + done, size - done);
        if (n <= 0) return -1;
        done += n;
    }
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* One worker of `rr cps`: short connections until the deadline; returns how many
 * completed, or -1 - completed on the first failure. */
static long connections(struct addrinfo *ai, double deadline, int size) {
    char *buf = calloc(1, size);
    long done = 0;
    int one = 1;
    while (now() < deadline) {
        int fd = socket(ai->ai_family, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) return -1 - done;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (full(fd, buf, size, 1) || full(fd, buf, size, 0)) return -1 - done;
        close(fd);
        done++;
    }
    return done;
}

static int cps(int argc, char **argv) {
    if (argc < 7) { fprintf(stderr, "usage: rr cps HOST PORT SECONDS PARALLEL SIZE\n"); return 2; }
    double seconds = atof(argv[4]);
    int parallel = atoi(argv[5]), size = atoi(argv[6]);
    struct addrinfo *ai, hints = { .ai_socktype = SOCK_STREAM };
    if (getaddrinfo(argv[2], argv[3], &hints, &ai)) { fprintf(stderr, "bad address\n"); return 1; }
    int pipes[2];
    if (pipe(pipes)) { perror("pipe"); return 1; }
    double start = now();
    for (int i = 0; i < parallel; i++) {
        if (fork() == 0) {
            long done = connections(ai, start + seconds, size);
            if (write(pipes[1], &done, sizeof done) != sizeof done) _exit(1);
            _exit(0);
        }
    }
    long total = 0, failures = 0;
    for (int i = 0; i < parallel; i++) {
        long done;
        if (read(pipes[0], &done, sizeof done) != sizeof done) { failures++; continue; }
        if (done < 0) { failures++; done = -1 - done; }
        total += done;
    }
    while (wait(NULL) > 0) {}
    printf("cps=%.0f failures=%ld\n", total / (now() - start), failures);
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "cps") == 0) return cps(argc, argv);
    if (argc >= 3 && strcmp(argv[1], "server") == 0) {
        int s = socket(AF_INET6, SOCK_STREAM, 0), one = 1, zero = 0;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(atoi(argv[2])), .sin6_addr = in6addr_any };
        if (bind(s, (void *)&a, sizeof a) || listen(s, 128)) { perror("bind"); return 1; }
        signal(SIGCHLD, SIG_IGN);  /* a child per connection; `rr cps` makes thousands */
        printf("listening\n"); fflush(stdout);
        for (;;) {
            int c = accept(s, 0, 0);
            if (c < 0) continue;
            if (fork() == 0) {
                char buf[65536];
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                for (;;) { int n = read(c, buf, sizeof buf); if (n <= 0 || full(c, buf, n, 1)) break; }
                _exit(0);
            }
            close(c);
        }
    }
    if (argc < 6) { fprintf(stderr, "usage: rr server PORT | rr client HOST PORT N SIZE\n"); return 2; }
    int n = atoi(argv[4]), size = atoi(argv[5]), one = 1;
    struct addrinfo *ai, hints = { .ai_socktype = SOCK_STREAM };
    if (getaddrinfo(argv[2], argv[3], &hints, &ai)) { fprintf(stderr, "bad address\n"); return 1; }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen)) { perror("connect"); return 1; }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char *buf = calloc(1, size);
    long *t = calloc(n, sizeof(long));
    for (int i = 0; i < 1000; i++) if (full(fd, buf, size, 1) || full(fd, buf, size, 0)) return 1;
    for (int i = 0; i < n; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (full(fd, buf, size, 1) || full(fd, buf, size, 0)) { fprintf(stderr, "connection lost\n"); return 1; }
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[i] = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
    }
    qsort(t, n, sizeof(long), cmp);
    printf("p50_us=%.1f p90_us=%.1f p99_us=%.1f\n", t[n / 2] / 1e3, t[n * 9 / 10] / 1e3, t[n * 99 / 100] / 1e3);
    return 0;
}
