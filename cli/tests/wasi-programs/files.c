/* File system behaviour inside a preopened directory mounted at /sandbox. Every step prints one
 * line; the first failure prints the reason and exits 1. Used by cli/tests/wasi.rs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond, what)                                                   \
  do {                                                                      \
    if (!(cond)) {                                                          \
      printf("FAIL %s: %s\n", what, strerror(errno));                      \
      exit(1);                                                              \
    }                                                                       \
    printf("ok %s\n", what);                                                \
  } while (0)

static char *slurp(const char *path) {
  static char buf[4096];
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static int count_entries(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
  closedir(d);
  return n;
}

int main(void) {
  CHECK(mkdir("/sandbox/sub", 0755) == 0, "mkdir");
  FILE *f = fopen("/sandbox/sub/a.txt", "w");
  CHECK(f != NULL, "create");
  CHECK(fputs("hello file\n", f) >= 0 && fclose(f) == 0, "write");
  char *s = slurp("/sandbox/sub/a.txt");
  CHECK(s && !strcmp(s, "hello file\n"), "read back");

  f = fopen("/sandbox/sub/a.txt", "a");
  CHECK(f && fputs("more\n", f) >= 0 && fclose(f) == 0, "append");
  s = slurp("/sandbox/sub/a.txt");
  CHECK(s && !strcmp(s, "hello file\nmore\n"), "appended");

  struct stat st;
  CHECK(stat("/sandbox/sub/a.txt", &st) == 0 && st.st_size == 16 && S_ISREG(st.st_mode), "stat");
  CHECK(stat("/sandbox/sub", &st) == 0 && S_ISDIR(st.st_mode), "stat dir");

  int fd = open("/sandbox/sub/a.txt", O_RDWR);
  CHECK(fd >= 0, "open rdwr");
  char buf[8] = {0};
  CHECK(pread(fd, buf, 4, 6) == 4 && !memcmp(buf, "file", 4), "pread");
  CHECK(lseek(fd, 0, SEEK_END) == 16, "seek end");
  CHECK(pwrite(fd, "HELLO", 5, 0) == 5, "pwrite");
  CHECK(ftruncate(fd, 10) == 0 && fstat(fd, &st) == 0 && st.st_size == 10, "truncate");
  CHECK(close(fd) == 0, "close");
  s = slurp("/sandbox/sub/a.txt");
  CHECK(s && !strcmp(s, "HELLO file"), "pwrite result");

  CHECK(count_entries("/sandbox/sub", "a.txt") == 1, "readdir");
  /* Enough long names that listing needs several fd_readdir calls. */
  for (int i = 0; i < 150; i++) {
    char name[128];
    snprintf(name, sizeof name, "/sandbox/sub/many-%03d-with-a-rather-long-name-to-fill-buffers", i);
    int m = open(name, O_CREAT | O_WRONLY, 0644);
    if (m < 0 || close(m) != 0) CHECK(0, "create many");
  }
  CHECK(count_entries("/sandbox/sub", "many-") == 150, "readdir many");
  for (int i = 0; i < 150; i++) {
    char name[128];
    snprintf(name, sizeof name, "/sandbox/sub/many-%03d-with-a-rather-long-name-to-fill-buffers", i);
    if (unlink(name) != 0) CHECK(0, "unlink many");
  }

  CHECK(rename("/sandbox/sub/a.txt", "/sandbox/sub/b.txt") == 0, "rename");
  CHECK(access("/sandbox/sub/a.txt", F_OK) != 0 && errno == ENOENT, "old name gone");
  CHECK(access("/sandbox/sub/b.txt", F_OK) == 0, "new name there");
  CHECK(open("/sandbox/sub/b.txt", O_CREAT | O_EXCL | O_WRONLY, 0644) < 0 && errno == EEXIST, "exclusive create");
  CHECK(rmdir("/sandbox/sub") != 0 && errno == ENOTEMPTY, "rmdir non-empty");
  CHECK(unlink("/sandbox/sub/b.txt") == 0, "unlink");
  CHECK(open("/sandbox/sub/b.txt", O_RDONLY) < 0 && errno == ENOENT, "unlinked");
  CHECK(rmdir("/sandbox/sub") == 0, "rmdir");
  CHECK(opendir("/sandbox/sub") == NULL && errno == ENOENT, "rmdir result");

  f = fopen("/sandbox/final.txt", "w");
  CHECK(f && fputs("written by the guest\n", f) >= 0 && fclose(f) == 0, "final file");
  printf("done\n");
  return 0;
}
