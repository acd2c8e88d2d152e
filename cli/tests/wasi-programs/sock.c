/* Accepts one connection on the preopened socket (fd 3, from --tcplisten), reads one message,
 * answers it upper-cased and exits. Used by cli/tests/wasi.rs. */
#include <stdio.h>
#include <wasi/api.h>

int main(void) {
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
