#!/bin/sh
# SPDX-License-Identifier: MIT
# A driver whose init lowers max_write to 5000: how a 12000-byte write(2)
# reaches it.
./realfuse-bufdev -f --name=mw --max-write=5000 --log=/tmp/mw.log &
drv=$!
for i in $(seq 100); do [ -e /dev/mw ] && break; sleep 0.05; done
python3 -c "
import os
fd = os.open('/dev/mw', os.O_WRONLY)
print('write', os.write(fd, b'a' * 12000))
"
kill $drv
grep '^write' /tmp/mw.log
