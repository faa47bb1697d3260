#!/bin/sh
# SPDX-License-Identifier: MIT
# Which polls of a CUSE file give the driver a poll handle: pollprobe.py
# (copy tests/e2e/pollprobe.py beside the script) prints ph= phase by phase.
./realfuse-bufdev -f --name=ph --log=/tmp/ph.log &
drv=$!
./realfuse-bufdev -f --name=ph2 --log=/tmp/ph2.log --per-open &
drv2=$!
for i in $(seq 100); do [ -e /dev/ph ] && [ -e /dev/ph2 ] && break; sleep 0.05; done
python3 ./pollprobe.py /dev/ph /tmp/ph.log /dev/ph2
kill $drv $drv2
