/* Accepts one connection on the preopened socket (fd 3, from --tcplisten), reads one message,
 * answers it upper-cased and exits. With an argument, first writes a file of that name: the
 * preopened directories come after the socket, and wasi-libc must still find them. Used by
 * cli/tests/wasi.rs. */
#include <stdio.h>
#include <wasi/api.h>

int main(int argc, char **argv) {
  if (argc > 1) {
    FILE *f = fopen(argv[1], "w");
    if (!f || fputs("next to a socket\n", f) < 0 || fclose(f) != 0) {
      perror(argv[1]);
      return 1;
    }
  }
  __wasi_fd_t conn;
  __wasi_errno_t e = __wasi_sock_accept(3, 0, &conn);
  if (e) {
    printf("accept=%d\n", e);
    return 1;
  }
  char buf[64];
  __wasi_iovec_t in = {.buf = (uint8_t *)buf, .buf_len = sizeof buf};
  size_t n;
  __wasi_roflags_t roflags;
  e = __wasi_sock_recv(conn, &in, 1, 0, &n, &roflags);
  if (e) {
    printf("recv=%d\n", e);
    return 1;
  }
  for (size_t i = 0; i < n; i++)
    if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] -= 32;
  __wasi_ciovec_t out = {.buf = (const uint8_t *)buf, .buf_len = n};
  size_t sent;
  e = __wasi_sock_send(conn, &out, 1, 0, &sent);
  printf("got=%.*s send=%d shutdown=%d close=%d\n", (int)n, buf, e, __wasi_sock_shutdown(conn, __WASI_SDFLAGS_WR),
         __wasi_fd_close(conn));
  return 0;
}
