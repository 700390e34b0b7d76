/* SPDX-License-Identifier: MIT */
/*
 * lib/fuse-front.c against the real kernel: a two-node test device served
 * in a FUSE mount by a loop thread, exercised with plain syscalls from the
 * main thread. Needs root and /dev/fuse (else exit 77, meson's skip).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "front.h"

#define FAIL(...) do { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); failures++; } while (0)
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)
#define CHECK_ERR(expr, want) do { errno = 0; long _r = (long)(expr); \
	if (_r != -1 || errno != (want)) FAIL("%s: got %ld/%s, want -1/%s", #expr, _r, \
		strerror(errno), strerror(want)); } while (0)

#define TEST_GET _IOR('t', 1, uint32_t)
#define TEST_SET _IOW('t', 2, uint64_t)

static int failures;

/* The test double: a device that records what the front end hands it. */
struct testdev {
	int ready;                 /* poll() reports POLLIN when set */
	uint64_t value;            /* TEST_SET stores, TEST_GET returns low 32 bits + 42 */
	unsigned int writes, continued;
	uint64_t bytes;
	unsigned int opens, releases;
};

static struct testdev td;

static int td_open(struct ukd_file *f)
{
	td.opens++;
	return 0;
}

static void td_release(struct ukd_file *f)
{
	td.releases++;
}

static ssize_t td_read(struct ukd_file *f, void *buf, size_t size)
{
	static const char text[] = "hello\n";
	size_t n;

	if (f->pos >= sizeof(text) - 1)
		return 0;
	n = sizeof(text) - 1 - f->pos;
	if (n > size)
		n = size;
	memcpy(buf, text + f->pos, n);
	f->pos += n;
	return (ssize_t)n;
}

static ssize_t td_write(struct ukd_file *f, const struct ukd_write *w)
{
	if (w->continued)
		td.continued++;
	else
		td.writes++;
	td.bytes += w->size;
	if (w->size >= 4 && !memcmp(w->buf, "ping", 4)) {
		td.ready = 1;
		ukd_chardev_wake(f->dev);
	}
	return (ssize_t)w->size;
}

static int td_ioctl(struct ukd_file *f, unsigned int cmd, const void *in, size_t in_size,
		    void *out, size_t out_size)
{
	uint32_t v;

	switch (cmd) {
	case TEST_GET:
		v = (uint32_t)td.value + 42;
		memcpy(out, &v, sizeof(v));
		return 0;
	case TEST_SET:
		memcpy(&td.value, in, sizeof(td.value));
		return 0;
	}
	return -ENOTTY;
}

static unsigned int td_poll(struct ukd_file *f)
{
	return POLLOUT | (td.ready ? POLLIN : 0);
}

static const struct ukd_chardev_ops td_ops = {
	.open = td_open, .read = td_read, .write = td_write, .ioctl = td_ioctl,
	.poll = td_poll, .release = td_release,
};

static struct ukd_chardev alpha = { .name = "alpha", .ops = &td_ops, .mode = 0640 };
static struct ukd_chardev beta = { .name = "beta", .ops = &td_ops, .mode = 0666 };

struct loop_ctx {
	char *dir;
	int stop_fd;
	int start_result;
	pthread_mutex_t lock;
	pthread_cond_t started;
	int state; /* 0 starting, 1 serving, 2 failed */
};

static int on_stop(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

static void *loop_thread(void *arg)
{
	struct loop_ctx *ctx = arg;
	struct ukd_chardev *devs[] = { &alpha, &beta };
	struct ukd_front_config cfg = { .kind = UKD_FRONT_FUSE, .mountpoint = ctx->dir,
					.fsname = "ukdtest", .allow_other = true };
	struct ukd_front *front = NULL;
	sd_event *ev = NULL;
	int r;

	r = sd_event_new(&ev);
	if (r >= 0)
		r = sd_event_add_io(ev, NULL, ctx->stop_fd, EPOLLIN, on_stop, NULL);
	if (r >= 0)
		r = ukd_front_new(&front, &cfg, devs, 2, ev);
	pthread_mutex_lock(&ctx->lock);
	ctx->start_result = r;
	ctx->state = r < 0 ? 2 : 1;
	pthread_cond_signal(&ctx->started);
	pthread_mutex_unlock(&ctx->lock);
	if (r >= 0)
		sd_event_loop(ev);
	ukd_front_free(front);
	sd_event_unref(ev);
	return NULL;
}

struct poller {
	char path[512];
	int revents;
};

static void *poll_thread(void *arg)
{
	struct poller *p = arg;
	int fd = open(p->path, O_RDONLY | O_CLOEXEC);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (fd >= 0 && poll(&pfd, 1, 10000) == 1)
		p->revents = pfd.revents;
	else
		p->revents = -1;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void path_of(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void run_checks(const char *dir)
{
	char a[512], b[512], none[512], buf[64];
	struct stat st;
	DIR *d;
	struct dirent *de;
	int fd, seen = 0, n;

	path_of(a, sizeof(a), dir, "alpha");
	path_of(b, sizeof(b), dir, "beta");
	path_of(none, sizeof(none), dir, "gamma");

	/* The directory and the nodes. */
	d = opendir(dir);
	CHECK(d != NULL, "opendir: %m");
	while (d && (de = readdir(d)))
		seen |= !strcmp(de->d_name, "alpha") ? 1 : !strcmp(de->d_name, "beta") ? 2 :
			!strcmp(de->d_name, ".") ? 4 : !strcmp(de->d_name, "..") ? 8 : 16;
	if (d)
		closedir(d);
	CHECK(seen == 15, "readdir saw mask %d, want alpha+beta+.+.. only", seen);
	CHECK(stat(a, &st) == 0 && st.st_mode == (S_IFREG | 0640) && st.st_size == 0 &&
	      st.st_uid == geteuid(), "stat alpha: mode %o size %lld", st.st_mode, (long long)st.st_size);
	CHECK(stat(b, &st) == 0 && st.st_mode == (S_IFREG | 0666), "stat beta: mode %o", st.st_mode);
	CHECK_ERR(stat(none, &st), ENOENT);
	CHECK_ERR(open(none, O_RDWR), ENOENT);
	CHECK_ERR(open(none, O_CREAT | O_WRONLY, 0644), EPERM);
	CHECK_ERR(unlink(a), EPERM);
	CHECK_ERR(chmod(a, 0600), EPERM);
	CHECK_ERR(truncate(a, 5), EINVAL);
	CHECK(truncate(a, 0) == 0, "truncate to 0: %m");

	/* Reads: the device's own position, a stream, EOF. */
	fd = open(a, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0, "open alpha: %m");
	n = (int)read(fd, buf, 3);
	CHECK(n == 3 && !memcmp(buf, "hel", 3), "read 3 got %d", n);
	n = (int)read(fd, buf, sizeof(buf));
	CHECK(n == 3 && !memcmp(buf, "lo\n", 3), "read rest got %d", n);
	CHECK(read(fd, buf, sizeof(buf)) == 0, "read at EOF not 0");
	CHECK_ERR(pread(fd, buf, 1, 0), ESPIPE);
	CHECK_ERR(lseek(fd, 0, SEEK_SET), ESPIPE);

	/* Restricted ioctls pass through both ways; unknown ones are ENOTTY. */
	{
		uint64_t v64 = 100;
		uint32_t v32 = 0;

		CHECK(ioctl(fd, TEST_SET, &v64) == 0, "TEST_SET: %m");
		CHECK(ioctl(fd, TEST_GET, &v32) == 0 && v32 == 142, "TEST_GET gave %u: %m", v32);
		CHECK_ERR(ioctl(fd, _IO('t', 9)), ENOTTY);
	}

	/* Writes: one event per write(2), pieces of a large one marked. */
	{
		size_t big = 3u << 20;
		char *p = NULL;

		if (posix_memalign((void **)&p, 4096, big) != 0)
			abort();
		memset(p, 'x', big);
		td.writes = td.continued = 0;
		td.bytes = 0;
		CHECK(write(fd, "1", 1) == 1, "write 1 byte: %m");
		CHECK(write(fd, p, big) == (ssize_t)big, "write 3 MiB: %m");
		CHECK(write(fd, "0", 1) == 1, "write 1 byte: %m");
		/* Two page-aligned 1 MiB writes in a row are two write(2)s, not
		 * one: each fills exactly one request. */
		CHECK(write(fd, p, 1u << 20) == 1 << 20, "write 1 MiB: %m");
		CHECK(write(fd, p, 1u << 20) == 1 << 20, "write 1 MiB: %m");
		CHECK(td.writes == 5, "device saw %u first pieces, want 5", td.writes);
		CHECK(td.continued == 2, "device saw %u continued pieces of a 3 MiB write, want 2",
		      td.continued);
		CHECK(td.bytes == big + 2 + (2u << 20), "device saw %llu bytes", (unsigned long long)td.bytes);
		free(p);
	}
	close(fd);

	/* poll() sleeps until the device wakes it. */
	{
		struct poller pl = { .revents = 0 };
		pthread_t t;

		snprintf(pl.path, sizeof(pl.path), "%s", b);
		td.ready = 0;
		pthread_create(&t, NULL, poll_thread, &pl);
		usleep(300000);
		CHECK(pl.revents == 0, "poll returned before the wake-up (%d)", pl.revents);
		fd = open(b, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		CHECK(fd >= 0 && write(fd, "ping", 4) == 4, "ping: %m");
		if (fd >= 0)
			close(fd);
		pthread_join(t, NULL);
		CHECK(pl.revents > 0 && (pl.revents & POLLIN), "poll revents %d after wake", pl.revents);
	}
}

/* Is @path a mount point in /proc/self/mountinfo? (No stat(2): nobody
 * answers FUSE_INIT for a front end without a loop.) */
static bool mounted_at(const char *path)
{
	char line[4096], mnt[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && !strcmp(mnt, path);
	if (f)
		fclose(f);
	return found;
}

/* Does @dir list @name? (Again no stat(2) of a FUSE mount point.) */
static bool lists(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	while (d && !found && (e = readdir(d)))
		found = !strcmp(e->d_name, name);
	if (d)
		closedir(d);
	return found;
}

/* make_mountpoint: a missing directory is created and removed again at
 * free; an existing one is left; without it a missing one is an error.
 * And the frontend= names daemons parse. */
static void check_mountpoint_lifecycle(const char *base)
{
	struct ukd_chardev *devs[] = { &alpha };
	struct ukd_front_config cfg = { .kind = UKD_FRONT_AUTO, .fsname = "ukdtest" };
	struct ukd_front *f = NULL;
	char dir[512];
	sd_event *ev = NULL;
	int r;

	CHECK(ukd_front_kind_from_string("fuse") == UKD_FRONT_FUSE, "fuse");
	CHECK(ukd_front_kind_from_string("cuse") == UKD_FRONT_CUSE, "cuse");
	CHECK(ukd_front_kind_from_string("auto") == UKD_FRONT_AUTO, "auto");
	CHECK(ukd_front_kind_from_string("FUSE") == -EINVAL, "FUSE accepted");
	CHECK(ukd_front_kind_from_string(NULL) == -EINVAL, "NULL accepted");
	if (access("/dev/cuse", W_OK) != 0)
		CHECK(ukd_front_kind_resolve(UKD_FRONT_AUTO) == UKD_FRONT_FUSE, "auto without CUSE");

	snprintf(dir, sizeof(dir), "%s/made", base);
	cfg.mountpoint = dir;
	if (sd_event_new(&ev) < 0) {
		FAIL("sd_event_new");
		return;
	}
	r = ukd_front_new(&f, &cfg, devs, 1, ev);
	CHECK(r == -ENOENT && !f, "missing mount point without make_mountpoint: %d", r);
	ukd_front_free(f);
	f = NULL;

	cfg.kind = UKD_FRONT_FUSE;
	cfg.make_mountpoint = true;
	r = ukd_front_new(&f, &cfg, devs, 1, ev);
	CHECK(r == 0, "make_mountpoint: %s", strerror(-r));
	CHECK(lists(base, "made") && mounted_at(dir), "%s not created and mounted", dir);
	ukd_front_free(f);
	f = NULL;
	CHECK(!lists(base, "made") && !mounted_at(dir), "%s not removed at free", dir);

	/* Existing: used, and left. */
	if (mkdir(dir, 0700) != 0)
		FAIL("mkdir %s: %m", dir);
	r = ukd_front_new(&f, &cfg, devs, 1, ev);
	CHECK(r == 0 && mounted_at(dir), "existing mount point: %s", strerror(-r));
	ukd_front_free(f);
	CHECK(!mounted_at(dir) && lists(base, "made"), "existing mount point removed or mounted");
	rmdir(dir);
	sd_event_unref(ev);
}

int main(void)
{
	char tmpl[] = "/tmp/ukd-front-XXXXXX";
	struct loop_ctx ctx = { .lock = PTHREAD_MUTEX_INITIALIZER,
				.started = PTHREAD_COND_INITIALIZER };
	struct stat st, parent;
	pthread_t t;
	uint64_t one = 1;

	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
		printf("SKIP: needs root and /dev/fuse\n");
		return 77;
	}
	ctx.dir = mkdtemp(tmpl);
	ctx.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (!ctx.dir || ctx.stop_fd < 0)
		return 1;
	pthread_create(&t, NULL, loop_thread, &ctx);
	pthread_mutex_lock(&ctx.lock);
	while (ctx.state == 0)
		pthread_cond_wait(&ctx.started, &ctx.lock);
	pthread_mutex_unlock(&ctx.lock);
	if (ctx.state == 1)
		run_checks(ctx.dir);
	else
		FAIL("ukd_front_new: %s", strerror(-ctx.start_result));

	/* A second front end on the same directory is refused. */
	if (ctx.state == 1) {
		struct ukd_chardev *devs[] = { &alpha };
		struct ukd_front_config cfg = { .kind = UKD_FRONT_FUSE, .mountpoint = ctx.dir };
		struct ukd_front *f2 = NULL;
		sd_event *ev;

		sd_event_new(&ev);
		CHECK(ukd_front_new(&f2, &cfg, devs, 1, ev) == -EEXIST, "second mount not refused");
		ukd_front_free(f2);
		sd_event_unref(ev);
	}

	if (write(ctx.stop_fd, &one, sizeof(one)) != sizeof(one))
		FAIL("stop: %m");
	pthread_join(t, NULL);
	/* Every open was released, by the kernel or at teardown. */
	CHECK(td.opens > 0 && td.opens == td.releases, "opens %u != releases %u", td.opens, td.releases);
	/* Unmounted: the directory is on its parent's filesystem again. */
	CHECK(stat(ctx.dir, &st) == 0 && stat("/tmp", &parent) == 0 && st.st_dev == parent.st_dev,
	      "still mounted after ukd_front_free");
	check_mountpoint_lifecycle(ctx.dir);
	rmdir(ctx.dir);
	printf("%s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
