// SPDX-License-Identifier: Apache-2.0
/*
 * vmhelper: small syscall-level probes for the kwasm VM tests (kmod/tests/vm-test.sh), built
 * statically by `cargo xtask vm-test`. Each probe prints "ok" or the errno name (EINVAL, EPERM...)
 * of the failing call on stdout, so that the shell can compare exact results.
 *
 *   vmhelper open PATH                 open(PATH, O_RDWR)
 *   vmhelper ioctl PATH CMD [ARG]      open + ioctl(fd, CMD, ARG) (CMD, ARG: C integer syntax)
 *   vmhelper write PATH TEXT           open(O_WRONLY) + one write(TEXT); TEXT "<empty>" writes 0 bytes,
 *                                      "<newline>" writes "\n"
 *   vmhelper read PATH                 prints the file's content (first 4 KiB) as is
 *   vmhelper version PATH              KWASM_IOC_VERSION: prints "ABI KNOBS FEATURES" or the errno
 *   vmhelper as UID GID PROBE...       drop supplementary groups, setgid(GID), setuid(UID), probe
 *   vmhelper nocap PROBE...            stay uid 0 but drop CAP_SYS_ADMIN (effective, permitted), probe
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include "uapi/kwasm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(int rc)
{
	if (rc < 0) {
		const char *name = strerrorname_np(errno);
		printf("%s\n", name ? name : "E?");
	} else {
		printf("ok\n");
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: vmhelper open|ioctl|write|read|as|nocap ...\n");
	return 2;
}

static int probe(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *cmd = argv[0], *path = argv[1];

	if (!strcmp(cmd, "open") && argc == 2) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		report(fd);
		return 0;
	}
	if (!strcmp(cmd, "ioctl") && (argc == 3 || argc == 4)) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return report(fd);
		unsigned long req = strtoul(argv[2], NULL, 0);
		unsigned long arg = argc == 4 ? strtoul(argv[3], NULL, 0) : 0;
		return report(ioctl(fd, req, arg));
	}
	if (!strcmp(cmd, "write") && argc == 3) {
		const char *text = !strcmp(argv[2], "<empty>")	 ? ""
				   : !strcmp(argv[2], "<newline>") ? "\n"
								   : argv[2];
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return report(fd);
		ssize_t n = write(fd, text, strlen(text));
		if (n >= 0 && (size_t)n != strlen(text)) {
			printf("SHORT\n");
			return 0;
		}
		return report(n < 0 ? -1 : 0);
	}
	if (!strcmp(cmd, "read") && argc == 2) {
		char buf[4096];
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return report(fd);
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0)
			return report(-1);
		fwrite(buf, 1, n, stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") && argc == 2) {
		struct kwasm_version v;
		memset(&v, 0xff, sizeof(v));
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return report(fd);
		if (ioctl(fd, KWASM_IOC_VERSION, &v) < 0)
			return report(-1);
		printf("%u %u %llu\n", v.abi_version, v.knob_count, (unsigned long long)v.features);
		return 0;
	}
	if (!strcmp(cmd, "as") && argc >= 4) {
		uid_t uid = strtoul(argv[1], NULL, 0);
		gid_t gid = strtoul(argv[2], NULL, 0);
		if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) {
			perror("vmhelper as");
			return 1;
		}
		return probe(argc - 3, argv + 3);
	}
	if (!strcmp(cmd, "nocap") && argc >= 2) {
		struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
		struct __user_cap_data_struct data[2];
		if (syscall(SYS_capget, &hdr, data)) {
			perror("capget");
			return 1;
		}
		data[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
		data[CAP_SYS_ADMIN / 32].permitted &= ~(1u << (CAP_SYS_ADMIN % 32));
		data[CAP_SYS_ADMIN / 32].inheritable &= ~(1u << (CAP_SYS_ADMIN % 32));
		if (syscall(SYS_capset, &hdr, data)) {
			perror("capset");
			return 1;
		}
		return probe(argc - 1, argv + 1);
	}
	return usage();
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	return probe(argc - 1, argv + 1);
}
