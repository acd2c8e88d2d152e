/* A TCP echo server on the listening socket preopened as fd 3 (`kwasm run --tcplisten ADDR`,
 * `wasmtime run --tcplisten ADDR`; natively: any program that leaves a listening socket on fd 3).
 *
 * Usage: echo.wasm [CONNECTIONS]   serves that many connections (default 1), then prints
 * "echo: N connections, B bytes" and exits 0.
 *
 * One thread, poll() over the listener and every open connection (wasi-libc turns poll into
 * poll_oneoff, accept into sock_accept, recv/send into sock_recv/sock_send). The first connection
 * is taken with a plain blocking accept() before any poll, so that both ways of waiting are used.
 * Whatever a client sends comes back unchanged; a client that closes its side ends its
 * connection. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_FD 3
#define MAX_CONN 64

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, 0);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char **argv) {
  long want = argc > 1 ? atol(argv[1]) : 1;
  struct pollfd pfd[1 + MAX_CONN];
  long accepted = 0, closed = 0;
  unsigned long long bytes = 0;
  static char buf[65536];
  int n = 1;

  if (want < 1) {
    fprintf(stderr, "echo: CONNECTIONS must be at least 1\n");
    return 2;
  }
  pfd[0].fd = LISTEN_FD;
  pfd[0].events = POLLIN;
  int first = accept(LISTEN_FD, NULL, NULL);
  if (first < 0) {
    perror("echo: accept");
    return 1;
  }
  accepted = 1;
  pfd[n].fd = first;
  pfd[n].events = POLLIN;
  n++;
  while (closed < want) {
    /* Stop listening once every connection has been taken. */
    pfd[0].fd = accepted < want && n < 1 + MAX_CONN ? LISTEN_FD : -1;
    if (poll(pfd, n, -1) < 0) {
      if (errno == EINTR) continue;
      perror("echo: poll");
      return 1;
    }
    if (pfd[0].fd >= 0 && (pfd[0].revents & POLLIN)) {
      int c = accept(LISTEN_FD, NULL, NULL);
      if (c >= 0) {
        accepted++;
        pfd[n].fd = c;
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        n++;
      } else if (errno != EAGAIN) {
        perror("echo: accept");
        return 1;
      }
    }
    for (int i = 1; i < n; i++) {
      if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = recv(pfd[i].fd, buf, sizeof buf, 0);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r > 0 && send_all(pfd[i].fd, buf, (size_t)r) == 0) {
        bytes += (unsigned long long)r;
        continue;
      }
      /* End of stream or an error: close and drop it from the set. */
      close(pfd[i].fd);
      closed++;
      pfd[i] = pfd[n - 1];
      n--;
      i--;
    }
  }
  printf("echo: %ld connections, %llu bytes\n", closed, bytes);
  return 0;
}
