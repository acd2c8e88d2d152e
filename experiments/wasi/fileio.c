/* File I/O beneath a preopened directory mounted at /data (`--dir HOST::/data`): creates, writes,
 * reads back, appends, stats, seeks, reads and writes at offsets, truncates on open, refuses an
 * exclusive create of an existing file, reports a missing file, and copies in.txt (made by the
 * caller) to out.txt. Prints one line per step, the same in every correct runtime, so kernel and
 * user mode can be compared byte for byte. Exits 1 at the first unexpected result. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond, what)                                                        \
  do {                                                                           \
    if (!(cond)) {                                                               \
      printf("FAIL %s: %s\n", what, strerror(errno));                           \
      exit(1);                                                                   \
    }                                                                            \
    printf("ok %s\n", what);                                                     \
  } while (0)

static char *slurp(const char *path) {
  static char buf[8192];
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

int main(void) {
  FILE *f = fopen("/data/a.txt", "w");
  CHECK(f != NULL, "create");
  CHECK(fputs("hello file\n", f) >= 0 && fclose(f) == 0, "write");
  char *s = slurp("/data/a.txt");
  CHECK(s && !strcmp(s, "hello file\n"), "read back");

  f = fopen("/data/a.txt", "a");
  CHECK(f && fputs("more\n", f) >= 0 && fclose(f) == 0, "append");
  s = slurp("/data/a.txt");
  CHECK(s && !strcmp(s, "hello file\nmore\n"), "appended");

  struct stat st;
  CHECK(stat("/data/a.txt", &st) == 0 && st.st_size == 16 && S_ISREG(st.st_mode), "stat");
  CHECK(stat("/data", &st) == 0 && S_ISDIR(st.st_mode), "stat dir");

  int fd = open("/data/a.txt", O_RDWR);
  CHECK(fd >= 0, "open rdwr");
  char buf[8] = {0};
  CHECK(pread(fd, buf, 4, 6) == 4 && !memcmp(buf, "file", 4), "pread");
  CHECK(lseek(fd, 0, SEEK_END) == 16, "seek end");
  CHECK(lseek(fd, 6, SEEK_SET) == 6 && read(fd, buf, 4) == 4 && !memcmp(buf, "file", 4), "seek + read");
  CHECK(pwrite(fd, "HELLO", 5, 0) == 5, "pwrite");
  CHECK(fstat(fd, &st) == 0 && st.st_size == 16, "fstat");
  CHECK(close(fd) == 0, "close");
  s = slurp("/data/a.txt");
  CHECK(s && !strcmp(s, "HELLO file\nmore\n"), "pwrite result");

  fd = open("/data/a.txt", O_WRONLY | O_TRUNC);
  CHECK(fd >= 0 && write(fd, "short\n", 6) == 6 && close(fd) == 0, "truncate on open");
  s = slurp("/data/a.txt");
  CHECK(s && !strcmp(s, "short\n"), "truncated");

  CHECK(open("/data/a.txt", O_CREAT | O_EXCL | O_WRONLY, 0644) < 0 && errno == EEXIST, "exclusive create");
  CHECK(open("/data/missing.txt", O_RDONLY) < 0 && errno == ENOENT, "missing file");
  CHECK(open("/data/a.txt/x", O_RDONLY) < 0 && errno == ENOTDIR, "file as directory");

  s = slurp("/data/in.txt");
  CHECK(s != NULL, "read in.txt");
  size_t len = strlen(s);
  f = fopen("/data/out.txt", "w");
  CHECK(f && fwrite(s, 1, len, f) == len && fclose(f) == 0, "write out.txt");
  printf("copied %zu bytes\n", len);
  printf("done\n");
  return 0;
}
