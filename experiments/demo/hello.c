/* kwasm's bundled WASI demo (built and run by scripts/demo.sh).
 *
 * Greets, echoes its arguments and the environment variable DEMO_USER, computes something
 * (primes below a bound with a sieve, and a checksum of them), and, when a directory is
 * preopened at /sandbox, writes a file there and reads it back. Exit status 0 on success. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int count_primes(int limit, uint64_t *checksum) {
  char *composite = calloc((size_t)limit + 1, 1);
  if (!composite) return -1;
  int count = 0;
  *checksum = 0;
  for (int i = 2; i <= limit; i++) {
    if (composite[i]) continue;
    count++;
    *checksum = *checksum * 31 + (uint64_t)i;
    for (long j = (long)i * i; j <= limit; j += i) composite[j] = 1;
  }
  free(composite);
  return count;
}

static int sandbox_roundtrip(void) {
  const char *path = "/sandbox/kwasm-demo.txt";
  FILE *f = fopen(path, "w");
  if (!f) {
    printf("no writable /sandbox preopened; skipping the file round trip\n");
    return 0;
  }
  fprintf(f, "written by a WebAssembly program under kwasm\n");
  fclose(f);
  char line[128] = {0};
  f = fopen(path, "r");
  if (!f || !fgets(line, sizeof line, f)) {
    printf("could not read %s back\n", path);
    return 1;
  }
  fclose(f);
  line[strcspn(line, "\n")] = 0;
  printf("wrote and read back %s: \"%s\"\n", path, line);
  return 0;
}

int main(int argc, char **argv) {
  const char *user = getenv("DEMO_USER");
  printf("Hello from WebAssembly, %s!\n", user ? user : "stranger");
  printf("argv has %d entries:", argc);
  for (int i = 0; i < argc; i++) printf(" [%s]", argv[i]);
  printf("\n");

  int limit = 2000000;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  uint64_t checksum;
  int n = count_primes(limit, &checksum);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (n < 0) {
    printf("out of memory\n");
    return 1;
  }
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  printf("%d primes below %d (checksum %016llx), sieved in %.1f ms\n", n, limit, (unsigned long long)checksum, ms);
  return sandbox_roundtrip();
}
