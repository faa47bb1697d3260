#!/bin/sh
# SPDX-License-Identifier: MIT
# rawdrv (tests/e2e/rawdrv.c: no libfuse, its own reads and writevs on
# /dev/cuse) under the real kernel.  Build it static and copy it beside this
# script:
#     gcc -static -O2 -I. -o /tmp/orc/rawdrv tests/e2e/rawdrv.c
# q1: what fstat says of the /dev/cuse fd, and the kernel's CUSE_INIT;
# q2: a plain device works, then the sysfs abort: what the driver's read,
#     a waiting client read and new reads and writes on an open fd get;
# q3: a READ reply one byte too long (--bad=long);
# q4: a reply to a unique no request has (--bad=unknown);
# q5: which DEVNAMEs the kernel takes, where under /dev their nodes go, and
#     what is left there once the driver has ended.
up() { for i in $(seq 100); do [ -e "/dev/$1" ] && return 0; sleep 0.05; done; return 1; }
ended() { for i in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
flat() { sed 's/ pid=[0-9]*//' "$@" | paste -sd';'; } # no pids: runs compare
ERRNO='
import errno, os
def en(f, *a):
    try: return repr(f(*a))
    except OSError as e: return errno.errorcode[e.errno]
'

./rawdrv --name=raw --log=/tmp/raw.log &
drv=$!
up raw || echo "q1 /dev/raw never appeared"
echo "q1 $(head -n 2 /tmp/raw.log | flat)"
echo hello > /dev/raw
printf '%s\n' "q2 head -c 6:$(head -c 6 /dev/raw | od -An -c | tr -s ' '); sysfs /sys/class/cuse/raw: $(ls /sys/class/cuse/raw | paste -sd' ')"
python3 -c "$ERRNO
import threading, time
fd = os.open('/dev/raw', os.O_RDWR)
fd2 = os.open('/dev/raw', os.O_RDWR)
res = []
t = threading.Thread(target=lambda: res.append(en(os.read, fd2, 10)))
t.start()
time.sleep(0.3)
try:
    with open('/sys/class/cuse/raw/abort', 'w') as f: f.write('1')
    ab = 'ok'
except OSError as e: ab = errno.errorcode[e.errno]
t.join(5)
print('q2 abort', ab + ': waiting read', res[0] if res else 'still waiting',
      'new read', en(os.read, fd, 1), 'new write', en(os.write, fd, b'x'))
"
if ended $drv; then wait $drv; st="exit $?"; else st="still running"; kill $drv; wait $drv 2>/dev/null; fi
echo "q2 driver $st; node /dev/raw $([ -e /dev/raw ] && echo stays || echo gone); log: $(tail -n +3 /tmp/raw.log | flat)"

./rawdrv --name=long --bad=long --log=/tmp/long.log &
drv=$!
up long || echo "q3 /dev/long never appeared"
python3 -c "$ERRNO
fd = os.open('/dev/long', os.O_RDWR)
print('q3 read(4)', en(os.read, fd, 4), 'then write', en(os.write, fd, b'abc'),
      'read(4)', en(os.read, fd, 4))
os.close(fd)
"
sleep 0.2
kill $drv; wait $drv 2>/dev/null
echo "q3 log: $(tail -n +3 /tmp/long.log | flat)"

./rawdrv --name=unk --bad=unknown --log=/tmp/unk.log &
drv=$!
up unk || echo "q4 /dev/unk never appeared"
echo hello > /dev/unk
got=$(head -c 6 /dev/unk | od -An -c | tr -s ' ')
sleep 0.2
kill $drv; wait $drv 2>/dev/null
printf '%s\n' "q4 head -c 6:$got; log: $(tail -n +2 /tmp/unk.log | flat)"

n100=$(printf '%100s' | tr ' ' n)
i=0
for name in /dev/odd1 a//b sub/dir/name ./x trailing/ $n100; do
	i=$((i + 1))
	find /dev /sys/class/cuse -printf '%y:%p\n' | sort > /tmp/before
	./rawdrv --name="$name" --log=/tmp/n$i.log &
	drv=$!
	sleep 1
	find /dev /sys/class/cuse -printf '%y:%p\n' | sort > /tmp/after
	new=$(comm -13 /tmp/before /tmp/after | paste -sd' ')
	if kill -0 $drv 2>/dev/null; then
		st=running
		kill $drv
		wait $drv 2>/dev/null
	else
		wait $drv
		st="exit $?"
	fi
	find /dev /sys/class/cuse -printf '%y:%p\n' | sort > /tmp/after
	left=$(comm -13 /tmp/before /tmp/after | paste -sd' ')
	echo "q5 $name: driver $st; new: $new; left after it ends: ${left:-nothing}; log: $(tail -n +3 /tmp/n$i.log | flat)" |
		sed "s/$n100/<n x100>/g"
done
