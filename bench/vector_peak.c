/* The machine's vector throughput on one thread: 512-bit and 256-bit multiply-adds (16
 * independent chains, so latency is hidden) and 512-bit divisions (8 chains). The kernels'
 * speed is quoted against these figures in bench/RESULTS.md. x86-64 only; prints one JSON
 * line. Usage: vector_peak [--reps R] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "core/core.h"

#define F512(r) "vfmadd231pd %%zmm30, %%zmm31, %%zmm" #r "\n\t"
#define F256(r) "vfmadd231pd %%ymm14, %%ymm15, %%ymm" #r "\n\t"
#define D512(r) "vdivpd %%zmm31, %%zmm" #r ", %%zmm" #r "\n\t"

/* Registers start at 0 (multiply-adds of zeros stay zero) or 1 (divisions by 1 stay 1): no
 * subnormal or NaN operands. */
__attribute__((target("avx512f"))) static double fma512(long n) {
  __asm__ volatile("vpxorq %%zmm0, %%zmm0, %%zmm0\n\t"
                   "vmovapd %%zmm0, %%zmm1\n\tvmovapd %%zmm0, %%zmm2\n\tvmovapd %%zmm0, %%zmm3\n\t"
                   "vmovapd %%zmm0, %%zmm4\n\tvmovapd %%zmm0, %%zmm5\n\tvmovapd %%zmm0, %%zmm6\n\t"
                   "vmovapd %%zmm0, %%zmm7\n\tvmovapd %%zmm0, %%zmm8\n\tvmovapd %%zmm0, %%zmm9\n\t"
                   "vmovapd %%zmm0, %%zmm10\n\tvmovapd %%zmm0, %%zmm11\n\tvmovapd %%zmm0, %%zmm12\n\t"
                   "vmovapd %%zmm0, %%zmm13\n\tvmovapd %%zmm0, %%zmm14\n\tvmovapd %%zmm0, %%zmm15\n\t"
                   "vmovapd %%zmm0, %%zmm30\n\tvmovapd %%zmm0, %%zmm31\n\t" ::: "memory");
  double t0 = nplm__now();
  for (long k = 0; k < n; k++)
    __asm__ volatile(F512(0) F512(1) F512(2) F512(3) F512(4) F512(5) F512(6) F512(7) F512(8)
                         F512(9) F512(10) F512(11) F512(12) F512(13) F512(14) F512(15) ::
                             : "memory");
  return 16.0 * (double)n / (nplm__now() - t0);
}

__attribute__((target("avx2,fma"))) static double fma256(long n) {
  __asm__ volatile("vpxor %%ymm0, %%ymm0, %%ymm0\n\t"
                   "vmovapd %%ymm0, %%ymm1\n\tvmovapd %%ymm0, %%ymm2\n\tvmovapd %%ymm0, %%ymm3\n\t"
                   "vmovapd %%ymm0, %%ymm4\n\tvmovapd %%ymm0, %%ymm5\n\tvmovapd %%ymm0, %%ymm6\n\t"
                   "vmovapd %%ymm0, %%ymm7\n\tvmovapd %%ymm0, %%ymm8\n\tvmovapd %%ymm0, %%ymm9\n\t"
                   "vmovapd %%ymm0, %%ymm10\n\tvmovapd %%ymm0, %%ymm11\n\tvmovapd %%ymm0, %%ymm12\n\t"
                   "vmovapd %%ymm0, %%ymm13\n\tvmovapd %%ymm0, %%ymm14\n\tvmovapd %%ymm0, %%ymm15\n\t" :::
                       "memory");
  double t0 = nplm__now();
  for (long k = 0; k < n; k++)
    __asm__ volatile(F256(0) F256(1) F256(2) F256(3) F256(4) F256(5) F256(6) F256(7) F256(8)
                         F256(9) F256(10) F256(11) F256(12) F256(13) ::
                             : "memory");
  return 14.0 * (double)n / (nplm__now() - t0);
}

__attribute__((target("avx512f"))) static double div512(long n) {
  const double one = 1.0;
  __asm__ volatile("vbroadcastsd %0, %%zmm0\n\t"
                   "vmovapd %%zmm0, %%zmm1\n\tvmovapd %%zmm0, %%zmm2\n\tvmovapd %%zmm0, %%zmm3\n\t"
                   "vmovapd %%zmm0, %%zmm4\n\tvmovapd %%zmm0, %%zmm5\n\tvmovapd %%zmm0, %%zmm6\n\t"
                   "vmovapd %%zmm0, %%zmm7\n\tvmovapd %%zmm0, %%zmm31\n\t" ::"m"(one)
                   : "memory");
  double t0 = nplm__now();
  for (long k = 0; k < n; k++)
    __asm__ volatile(D512(0) D512(1) D512(2) D512(3) D512(4) D512(5) D512(6) D512(7) ::: "memory");
  return 8.0 * (double)n / (nplm__now() - t0);
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int reps = 5;
  if (argc == 3 && strcmp(argv[1], "--reps") == 0) reps = atoi(argv[2]);
  if (reps < 1 || reps > 100) return 2;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("fma")) {
    printf("{\"bench\":\"vector_peak\",\"error\":\"needs AVX-512F and FMA\"}\n");
    return 0;
  }
  double f5[100], f2[100], dv[100];
  for (int r = 0; r < reps; r++) {
    f5[r] = fma512(50000000);
    f2[r] = fma256(50000000);
    dv[r] = div512(5000000);
  }
  qsort(f5, (size_t)reps, sizeof *f5, cmp);
  qsort(f2, (size_t)reps, sizeof *f2, cmp);
  qsort(dv, (size_t)reps, sizeof *dv, cmp);
  printf("{\"bench\":\"vector_peak\",\"threads\":1,\"reps\":%d,\"fma512_per_ns\":%.3f,"
         "\"fma256_per_ns\":%.3f,\"div512_ns_each\":%.3f,\"cpu\":\"%s\"}\n",
         reps, 1e-9 * f5[reps / 2], 1e-9 * f2[reps / 2], 1e9 / dv[reps / 2], bench_cpu_model());
  return 0;
}
