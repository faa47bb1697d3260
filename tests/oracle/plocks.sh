#!/bin/sh
# SPDX-License-Identifier: MIT
# fcntl and lockf record locks on a CUSE device between processes:
# plockprobe.py (copy tests/e2e/plockprobe.py beside the script) prints
# what each step saw.
./realfuse-bufdev -f --name=pl --log=/tmp/pl.log &
drv=$!
for i in $(seq 100); do [ -e /dev/pl ] && break; sleep 0.05; done
python3 ./plockprobe.py /dev/pl
kill $drv
