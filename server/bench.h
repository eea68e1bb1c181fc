/* bench.h - `ganlive bench`: training throughput on real data, split by
 * phase, against the machine's measured GEMM rate. */
#ifndef GANLIVE_BENCH_H
#define GANLIVE_BENCH_H

#include "config.h"

/* Run the benchmark for cfg (batch, threads, data) over `iters` timed
 * iterations after a warm-up; prints a report. Returns an exit status. */
int srv_bench_run(const srv_config *cfg, long iters);

#endif
