/* Process-level WASI behaviour, one scenario per first argument. Used by cli/tests/wasi.rs. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

extern char **environ;

/* The raw import: wasi-libc's __wasi_path_open wrapper would strlen() the bad path itself. */
int32_t raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len, int32_t oflags, int64_t base,
                      int64_t inheriting, int32_t fdflags, int32_t opened)
    __attribute__((__import_module__("wasi_snapshot_preview1"), __import_name__("path_open")));

static long long now_ns(clockid_t clock) {
  struct timespec ts;
  if (clock_gettime(clock, &ts) != 0) {
    perror("clock_gettime");
    exit(1);
  }
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A pointer far outside the (small) linear memory. volatile keeps the compiler from reasoning
 * about it. */
static void *bad(uint32_t addr) {
  volatile uintptr_t p = addr;
  return (void *)p;
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "";
  if (!strcmp(what, "args")) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++) printf("env %s\n", *e);
    return 0;
  }
  if (!strcmp(what, "exit")) {
    exit(atoi(argv[2]));
  }
  if (!strcmp(what, "stdio")) {
    printf("to stdout\n");
    fprintf(stderr, "to stderr\n");
    return 0;
  }
  if (!strcmp(what, "cat")) {
    int c;
    while ((c = getchar()) != EOF) putchar(c >= 'a' && c <= 'z' ? c - 32 : c);
    return 0;
  }
  if (!strcmp(what, "clock")) {
    long long wall = now_ns(CLOCK_REALTIME);
    long long m1 = now_ns(CLOCK_MONOTONIC), m2 = now_ns(CLOCK_MONOTONIC);
    struct timespec res;
    if (clock_getres(CLOCK_MONOTONIC, &res) != 0) return 1;
    long long cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    printf("wall_s=%lld\n", wall / 1000000000LL);
    printf("monotonic_ok=%d\n", m2 >= m1 && m1 > 0);
    printf("res_ok=%d\n", res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 1000000);
    printf("cpu_ok=%d\n", cpu >= 0);
    return 0;
  }
  if (!strcmp(what, "random")) {
    unsigned char a[32], b[32];
    if (getentropy(a, sizeof a) || getentropy(b, sizeof b)) return 1;
    int zero = 1;
    for (unsigned i = 0; i < sizeof a; i++) zero &= a[i] == 0;
    printf("differ=%d nonzero=%d\n", memcmp(a, b, sizeof a) != 0, !zero);
    return 0;
  }
  if (!strcmp(what, "sleep")) {
    long long t0 = now_ns(CLOCK_MONOTONIC);
    struct timespec d = {0, 200 * 1000000};
    if (nanosleep(&d, NULL) != 0) return 1;
    long long t1 = now_ns(CLOCK_MONOTONIC);
    /* poll() with no fds and a timeout is a clock subscription too. */
    poll(NULL, 0, 100);
    long long t2 = now_ns(CLOCK_MONOTONIC);
    /* stdout is writable right away. */
    struct pollfd p = {.fd = 1, .events = POLLOUT};
    int ready = poll(&p, 1, 5000);
    long long t3 = now_ns(CLOCK_MONOTONIC);
    printf("slept_ms=%lld polled_ms=%lld\n", (t1 - t0) / 1000000, (t2 - t1) / 1000000);
    printf("stdout_ready=%d revents_out=%d quick=%d\n", ready, (p.revents & POLLOUT) != 0, t3 - t2 < 1000000000LL);
    return 0;
  }
  if (!strcmp(what, "efault")) {
    size_t n;
    __wasi_ciovec_t iov = {.buf = bad(0xfffff000u), .buf_len = 16};
    printf("fd_write_iovs=%d\n", __wasi_fd_write(1, bad(0xfffffff0u), 1, &n));
    printf("fd_write_buf=%d\n", __wasi_fd_write(1, &iov, 1, &n));
    printf("fd_write_out=%d\n", __wasi_fd_write(1, &iov, 0, bad(0xfffffffcu)));
    printf("args_get=%d\n", __wasi_args_get(bad(0xffffff00u), bad(0xffffff00u)));
    printf("random_get=%d\n", __wasi_random_get(bad(0xffff0000u), 0x10000));
    printf("clock_time_get=%d\n", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, bad(0xfffffffcu)));
    printf("path_open=%d\n", raw_path_open(3, 0, 0xfffff000u, 100, 0, 0, 0, 0, 0));
    printf("path_open_out=%d\n", raw_path_open(3, 0, (int32_t)(uintptr_t) ".", 1, 0, 0, 0, 0, 0xfffffffcu));
    printf("fd_read_iovs=%d\n", __wasi_fd_read(0, bad(0x7ffffff0u), 2, &n));
    /* Something wasi-libc may import but kwasm does not implement. */
    printf("path_symlink=%d\n", __wasi_path_symlink("a", 3, "b"));
    return 0;
  }
  if (!strcmp(what, "trap")) {
    fflush(stdout);
    __builtin_trap();
  }
  fprintf(stderr, "unknown scenario '%s'\n", what);
  return 2;
}
