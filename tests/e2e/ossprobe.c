/* SPDX-License-Identifier: MIT */
/*
 * An OSS client for the osspd test (issue 18): what a sound program does
 * with /dev/dsp and /dev/mixer, one line per step.
 *
 *   ossprobe dsp PATH HOLD_MS   set format, channels and rate; write PCM
 *                               blocking, then non-blocking until EAGAIN
 *                               (or 1 MiB); poll for POLLOUT; hold the
 *                               device HOLD_MS ms open; close
 *   ossprobe mixer PATH         SOUND_MIXER_INFO and the volume of PCM
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/soundcard.h>
#include <unistd.h>

static int dsp(const char *path, int hold_ms)
{
	static char pcm[65536];
	int fd = open(path, O_WRONLY), v;
	struct pollfd p;
	ssize_t n;
	long total = 0;

	if (fd < 0) {
		printf("open=-1 errno=%s\n", strerrorname_np(errno));
		return 1;
	}
	printf("open=ok\n");
	v = AFMT_S16_LE;
	printf("setfmt=%d fmt=0x%x\n", ioctl(fd, SNDCTL_DSP_SETFMT, &v), v);
	v = 2;
	printf("channels=%d n=%d\n", ioctl(fd, SNDCTL_DSP_CHANNELS, &v), v);
	v = 44100;
	printf("speed=%d rate=%d\n", ioctl(fd, SNDCTL_DSP_SPEED, &v), v);
	n = write(fd, pcm, 4096);
	printf("write=%zd\n", n);
	if (fcntl(fd, F_SETFL, O_NONBLOCK))
		return 1;
	for (;;) {
		n = write(fd, pcm, sizeof(pcm));
		if (n < 0 || total >= 1 << 20)
			break;
		total += n;
	}
	printf("nonblocking=%s\n", n < 0 ? strerrorname_np(errno) : "wrote 1 MiB");
	p = (struct pollfd){fd, POLLOUT, 0};
	v = poll(&p, 1, 10000);
	printf("poll=%d pollout=%d\n", v, !!(p.revents & POLLOUT));
	if (hold_ms) {
		printf("holding\n");
		fflush(stdout);
		usleep(hold_ms * 1000);
	}
	printf("close=%d\n", close(fd));
	return 0;
}

static int mixer(const char *path)
{
	struct mixer_info mi;
	int fd = open(path, O_RDWR), v = 0;

	if (fd < 0) {
		printf("open=-1 errno=%s\n", strerrorname_np(errno));
		return 1;
	}
	memset(&mi, 0, sizeof(mi));
	printf("info=%d id=%s\n", ioctl(fd, SOUND_MIXER_INFO, &mi), mi.id);
	printf("read_pcm=%d\n", ioctl(fd, SOUND_MIXER_READ_PCM, &v));
	printf("close=%d\n", close(fd));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "dsp"))
		return dsp(argv[2], atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "mixer"))
		return mixer(argv[2]);
	fprintf(stderr, "usage: ossprobe dsp PATH HOLD_MS | ossprobe mixer PATH\n");
	return 2;
}
