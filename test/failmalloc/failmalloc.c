// failmalloc: an LD_PRELOAD library that makes a fraction of the data path's
// allocations fail, for coapd's allocation-failure tests
// (test/integration/test_alloc_failure.py), in the spirit of nghttp2's
// failmalloc.
//
// The data path is the allocations made by the shared libraries named in
// `libs` (by default lwIP, which in Debian's build takes every pbuf, segment
// and pcb from malloc, and mbedTLS, which takes its record buffers and
// sessions from calloc): malloc, calloc and realloc called from their code
// (the caller's return address within one of their executable segments)
// fail with the configured probability inside a time window. Everything
// else is passed through to glibc.
//
//   COAPD_FAILMALLOC="rate=0.2,after=2,for=5,libs=liblwip:libmbed,seed=1"
//     rate   probability that an allocation fails (0..1)
//     after  seconds after start when failing begins (default 0)
//     for    seconds it lasts (default: for ever)
//     libs   ':'-separated substrings of library paths (default liblwip:libmbed)
//     seed   random seed (default 1)
//
// One kind of lwIP allocation is spared: a timer (memp pool SYS_TIMEOUT).
// lwIP 2.1 asserts when sys_timeout() cannot allocate one (timeouts.c,
// "pool MEMP_SYS_TIMEOUT is empty"), which aborts the process in Debian's
// build and which no caller can handle; failing it would test lwIP's assert,
// not coapd. memp_malloc() is interposed to recognise those.
//
// At exit it prints "failmalloc: F of N data-path allocations failed" to
// stderr.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwip/memp.h"

extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t n, size_t size);
extern void* __libc_realloc(void* p, size_t size);

enum { kMaxRanges = 32, kMaxLibs = 8 };

static struct {
  uintptr_t lo, hi;
} ranges[kMaxRanges];
static int nranges;
static char libs[kMaxLibs][64];
static int nlibs;
static double rate, after_s, for_s = -1;
static uint64_t seed = 1;
static double start_s;
static atomic_int ready;
static atomic_ullong seen, failed;
static _Thread_local uint64_t rng;
static _Thread_local int sparing;  // inside memp_malloc(MEMP_SYS_TIMEOUT)
static void* (*real_memp_malloc)(memp_t);

// (POSIX's way to take a function pointer from dlsym without ISO C's
// complaint about object-to-function pointer conversion.)
static void resolve_memp_malloc(void) {
  *(void**)(&real_memp_malloc) = dlsym(RTLD_NEXT, "memp_malloc");
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int collect(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  (void)data;
  int wanted = 0;
  for (int i = 0; i < nlibs; ++i)
    if (info->dlpi_name && strstr(info->dlpi_name, libs[i])) wanted = 1;
  if (!wanted) return 0;
  for (int i = 0; i < info->dlpi_phnum && nranges < kMaxRanges; ++i) {
    const ElfW(Phdr)* ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    ranges[nranges].lo = info->dlpi_addr + ph->p_vaddr;
    ranges[nranges].hi = ranges[nranges].lo + ph->p_memsz;
    ++nranges;
  }
  return 0;
}

static void add_libs(const char* list) {
  nlibs = 0;
  while (*list && nlibs < kMaxLibs) {
    size_t n = strcspn(list, ":,");
    if (n >= sizeof libs[0]) n = sizeof libs[0] - 1;
    memcpy(libs[nlibs], list, n);
    libs[nlibs][n] = 0;
    if (n) ++nlibs;
    list += n;
    if (*list != ':') break;
    ++list;
  }
}

__attribute__((constructor)) static void failmalloc_init(void) {
  const char* spec = getenv("COAPD_FAILMALLOC");
  add_libs("liblwip:libmbed");
  if (!spec) return;
  char buf[512];
  snprintf(buf, sizeof buf, "%s", spec);
  for (char* item = strtok(buf, ","); item; item = strtok(NULL, ",")) {
    if (!strncmp(item, "rate=", 5)) rate = atof(item + 5);
    else if (!strncmp(item, "after=", 6)) after_s = atof(item + 6);
    else if (!strncmp(item, "for=", 4)) for_s = atof(item + 4);
    else if (!strncmp(item, "seed=", 5)) seed = strtoull(item + 5, NULL, 10);
    else if (!strncmp(item, "libs=", 5)) add_libs(item + 5);
  }
  dl_iterate_phdr(collect, NULL);
  resolve_memp_malloc();
  start_s = now_s();
  atomic_store(&ready, 1);
}

__attribute__((destructor)) static void failmalloc_report(void) {
  if (!atomic_load(&ready)) return;
  fprintf(stderr, "failmalloc: %llu of %llu data-path allocations failed\n",
          (unsigned long long)atomic_load(&failed), (unsigned long long)atomic_load(&seen));
}

static int should_fail(const void* caller) {
  if (!atomic_load_explicit(&ready, memory_order_acquire) || sparing) return 0;
  const uintptr_t a = (uintptr_t)caller;
  int ours = 0;
  for (int i = 0; i < nranges && !ours; ++i) ours = a >= ranges[i].lo && a < ranges[i].hi;
  if (!ours) return 0;
  atomic_fetch_add_explicit(&seen, 1, memory_order_relaxed);
  const double t = now_s() - start_s;
  if (t < after_s || (for_s >= 0 && t >= after_s + for_s)) return 0;
  if (!rng) rng = seed ^ (uint64_t)(uintptr_t)&rng;
  rng ^= rng << 13;  // xorshift64
  rng ^= rng >> 7;
  rng ^= rng << 17;
  if ((double)(rng >> 11) / 9007199254740992.0 >= rate) return 0;
  atomic_fetch_add_explicit(&failed, 1, memory_order_relaxed);
  return 1;
}

void* malloc(size_t size) {
  if (should_fail(__builtin_return_address(0))) return NULL;
  return __libc_malloc(size);
}

void* calloc(size_t n, size_t size) {
  if (should_fail(__builtin_return_address(0))) return NULL;
  return __libc_calloc(n, size);
}

void* realloc(void* p, size_t size) {
  if (size && should_fail(__builtin_return_address(0))) return NULL;
  return __libc_realloc(p, size);
}

void* memp_malloc(memp_t type) {
  if (!real_memp_malloc) resolve_memp_malloc();
  if (type != MEMP_SYS_TIMEOUT) return real_memp_malloc(type);
  sparing = 1;
  void* p = real_memp_malloc(type);
  sparing = 0;
  return p;
}
