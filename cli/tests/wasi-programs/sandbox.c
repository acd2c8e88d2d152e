/* Attempts to leave the preopened directory (fd 3, mounted at /sandbox). Prints "name=errno" per
 * attempt (0 means it worked). The test sets up: inside the sandbox "inside.txt", "link_out" ->
 * /etc, "link_up" -> "..", "link_abs" -> an absolute path of a host file, "sub/"; outside (in the
 * parent) "victim". Used by cli/tests/wasi.rs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

#define DIRFD 3
#define RD (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK)
#define WR (__WASI_RIGHTS_FD_WRITE)

static int open_raw(const char *path, __wasi_lookupflags_t follow, __wasi_oflags_t oflags, __wasi_rights_t r) {
  __wasi_fd_t fd;
  __wasi_errno_t e = __wasi_path_open(DIRFD, follow, path, oflags, r, 0, 0, &fd);
  if (e == 0) (void)!__wasi_fd_close(fd);
  return e;
}

int main(void) {
  const __wasi_lookupflags_t F = __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW;
  __wasi_filestat_t st;
  printf("dotdot=%d\n", open_raw("../victim", F, 0, RD));
  printf("dotdot_create=%d\n", open_raw("../escaped", F, __WASI_OFLAGS_CREAT, WR));
  printf("sub_dotdot_dotdot=%d\n", open_raw("sub/../../victim", F, 0, RD));
  printf("absolute=%d\n", open_raw("/etc/passwd", F, 0, RD));
  printf("symlink_dir_out=%d\n", open_raw("link_out/passwd", F, 0, RD));
  printf("symlink_dir_out_nofollow=%d\n", open_raw("link_out/passwd", 0, 0, RD));
  printf("symlink_up=%d\n", open_raw("link_up/victim", F, 0, RD));
  printf("symlink_up_create=%d\n", open_raw("link_up/escaped", F, __WASI_OFLAGS_CREAT, WR));
  printf("symlink_abs=%d\n", open_raw("link_abs", F, 0, RD));
  printf("stat_symlink_follow=%d\n", __wasi_path_filestat_get(DIRFD, F, "link_out", &st));
  printf("stat_through_symlink=%d\n", __wasi_path_filestat_get(DIRFD, F, "link_up/victim", &st));
  int e = __wasi_path_filestat_get(DIRFD, 0, "link_out", &st);
  printf("stat_symlink_nofollow=%d type=%d\n", e, st.filetype);
  printf("mkdir_up=%d\n", __wasi_path_create_directory(DIRFD, "link_up/newdir"));
  printf("mkdir_dotdot=%d\n", __wasi_path_create_directory(DIRFD, "../newdir"));
  printf("unlink_up=%d\n", __wasi_path_unlink_file(DIRFD, "link_up/victim"));
  printf("unlink_dotdot=%d\n", __wasi_path_unlink_file(DIRFD, "../victim"));
  printf("rmdir_dotdot=%d\n", __wasi_path_remove_directory(DIRFD, "sub/.."));
  printf("rename_out=%d\n", __wasi_path_rename(DIRFD, "inside.txt", DIRFD, "../renamed"));
  printf("rename_up=%d\n", __wasi_path_rename(DIRFD, "inside.txt", DIRFD, "link_up/renamed"));
  printf("rename_in=%d\n", __wasi_path_rename(DIRFD, "link_up/victim", DIRFD, "stolen"));
  /* Through wasi-libc: a path outside every preopen has nowhere to go. */
  printf("libc_etc=%d\n", open("/etc/passwd", O_RDONLY) < 0 ? errno : 0);
  printf("libc_dotdot=%d\n", open("/sandbox/../victim", O_RDONLY) < 0 ? errno : 0);
  /* Allowed: staying inside, even through "..". */
  printf("inside=%d\n", open_raw("sub/../inside.txt", F, 0, RD));
  printf("symlink_in=%d\n", open_raw("link_in", F, 0, RD));
  printf("libc_inside=%d\n", open("/sandbox/sub/../inside.txt", O_RDONLY) < 0 ? errno : 0);
  return 0;
}
