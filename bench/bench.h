/* SPDX-License-Identifier: MIT */
/* What cuse-bench and bench-driver agree on. */
#ifndef CUSESHIM_BENCH_H
#define CUSESHIM_BENCH_H

#include <stdint.h>
#include <sys/ioctl.h>

/* Answered with the CLOCK_MONOTONIC time (ns) at which the driver last
 * called fuse_lowlevel_notify_poll for a write, or 0 when that write found
 * no poller waiting.  Also the ioctl.8 figure's round trip. */
#define BENCH_IOC_NOTIFIED _IOR('B', 1, uint64_t)

/* Answered after BENCH_WORK_NS of the serving thread's CPU time spent
 * computing, with what it computed: a request whose cost is the
 * driver's, for the scale.work figures. */
#define BENCH_IOC_WORK _IOR('B', 2, uint64_t)
#define BENCH_WORK_NS  20000

#endif
