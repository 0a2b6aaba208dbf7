/* Running a command raptor does not trust to finish; see child.h. */
#define _GNU_SOURCE /* pipe2, execvpe, environ */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xalloc.h"
#include "banned.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Without a pidfd (Linux < 5.3), how often the command's exit is looked for. */
#define EXIT_TICK_MS 50
/* Reads of output in one go at most, so that a command writing without pause
 * cannot keep the watch from its deadline. */
#define READ_CHUNKS 64
/* Where sysconf cannot say, the descriptors closed one by one go up to this. */
#define FD_LIMIT 65536

uint64_t child_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int poll_ms(uint64_t ms)
{
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Whether the environment entry "NAME=value" is one of `drop`. An entry
 * without '=' is matched by its whole text: it is dropped all the same. */
static bool dropped(const char *entry, const char *const *drop)
{
	for (; drop && *drop; drop++) {
		size_t len = strlen(*drop);

		if (len && !strncmp(entry, *drop, len) && (entry[len] == '=' || !entry[len]))
			return true;
	}
	return false;
}

/*
 * raptor's environment without the variables named in `drop`, every copy of
 * them (an environment can hold a name twice; getenv sees the first, a child
 * might see another). Only the array is new: the strings are raptor's own,
 * which nothing changes while raptor runs (the secret is read with getenv,
 * never set), so the child's environment needs no allocation after fork.
 */
static char **env_without(const char *const *drop)
{
	size_t n = 0, k = 0;
	char **v;

	while (environ && environ[n])
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		if (!dropped(environ[i], drop))
			v[k++] = environ[i];
	return v;
}

/* In the child: every descriptor above 2 but `keep` gone at exec, so the
 * command (or a daemon it starts) holds neither raptor's state lock nor its
 * sockets, nor a pipe another thread is making for its own child. */
static void close_others(int keep, long max_fd)
{
#ifdef SYS_close_range
	/* close-on-exec leaves `keep` usable until exec (Linux 5.11) */
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	/* older kernels: closed now, all but `keep` (Linux 5.9) */
	if ((keep == 3 || syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U) == 0) &&
	    syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U) == 0)
		return;
#endif
	for (long fd = 3; fd < max_fd; fd++)
		if (fd != keep)
			close((int)fd);
}

/*
 * In the child, between fork and exec: async-signal-safe calls only (another
 * thread may have held a lock of malloc's or stdio's at the fork), which is
 * why everything it uses was made before the fork. A failure is written to
 * `ex` as an errno for the parent.
 */
static void __attribute__((noreturn))
exec_child(char *const *argv, char *const *envp, int out, int ex, int null_fd, long max_fd)
{
	/* the kernel's struct sigaction, zeroed: SIG_DFL is 0, so this is the
	 * default disposition whatever the architecture's layout (64 bytes is
	 * more than any architecture's struct) */
	static const unsigned long dfl[8];
	sigset_t none;
	int o, x, n, e;

	setpgid(0, 0);
	/* an ignored signal would stay ignored across exec: every disposition
	 * back to its default while the parent's full mask keeps handlers out.
	 * The system call, not sigaction(): the C library refuses its own
	 * signals (32, 33), and a parent of raptor's may have left them ignored.
	 * SIGKILL and SIGSTOP are refused, harmlessly. */
	for (int sig = 1; sig < NSIG; sig++)
		syscall(SYS_rt_sigaction, sig, dfl, NULL, (size_t)(NSIG - 1) / 8);
	/* raptor's mask (reconcile blocks SIGTERM, SIGINT and SIGHUP) is not the command's */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* out of the way of 0, 1 and 2 first, in case raptor had any of them closed */
	o = fcntl(out, F_DUPFD_CLOEXEC, 3);
	x = fcntl(ex, F_DUPFD_CLOEXEC, 3);
	n = fcntl(null_fd, F_DUPFD_CLOEXEC, 3);
	if (x >= 0)
		ex = x;
	if (o >= 0 && x >= 0 && n >= 0 && dup2(n, 0) >= 0 && dup2(o, 1) >= 0 && dup2(o, 2) >= 0) {
		close_others(ex, max_fd);
		/* PATH is searched as execvp does (glibc's allocates nothing) */
		execvpe(argv[0], argv, envp);
	}
	e = errno;
	while (write(ex, &e, sizeof(e)) < 0 && errno == EINTR)
		;
	_exit(127);
}

/* The parent's view of one running command. */
struct watch {
	pid_t pid;
	int out, ex, pidfd; /* -1 once closed */
	size_t kept, cap;   /* output bytes kept, and at most */
	int exec_errno;
	bool exited, lost, timed_out, kill_group;
};

/* Reads the output that is there without blocking; keeps up to the cap. At
 * end of file, or on a read error, the pipe is closed. */
static void read_output(struct watch *w, struct buf *output)
{
	char chunk[4096];

	for (int i = 0; i < READ_CHUNKS && w->out >= 0; i++) {
		ssize_t n = read(w->out, chunk, sizeof(chunk));

		if (n > 0) {
			size_t take = min_u64((size_t)n, w->cap - w->kept);

			if (take)
				buf_add(output, chunk, take);
			w->kept += take;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		} else if (n == 0 || errno != EINTR) {
			close_fd(&w->out);
		}
	}
}

/* What the child said about exec: an errno, or end of file when exec
 * worked (the pipe is close-on-exec). Closed once either came. */
static void read_exec_errno(struct watch *w)
{
	int e;
	ssize_t n;

	do
		n = read(w->ex, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n == (ssize_t)sizeof(e))
		w->exec_errno = e;
	close_fd(&w->ex);
}

/*
 * Reads the output and the exec errno until the command exits (and, with a
 * straggler time, its output closes) or the deadline passes; says whether
 * its group is to be killed.
 */
static void watch_run(struct watch *w, const struct child_spec *spec, struct buf *output)
{
	uint64_t exited_at = 0;

	for (;;) {
		struct pollfd p[3];
		nfds_t np = 0;
		uint64_t now, wait;

		if (!w->exited) {
			siginfo_t si;

			/* WNOWAIT leaves it a zombie until it is reaped below, so its
			 * pid and group id stay its own: a kill of the group cannot hit
			 * a stranger that was given the number again */
			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
				if (errno == EINTR)
					continue;
				w->lost = true; /* ECHILD: SIGCHLD is ignored and it was reaped */
			}
			if (w->lost || si.si_pid == w->pid) {
				w->exited = true;
				exited_at = child_now_ms();
			}
		}
		now = child_now_ms();
		if (w->exited && (!spec->straggler_ms || now - exited_at >= spec->straggler_ms)) {
			w->kill_group = true; /* whatever is left of it, or holds its output */
			return;
		}
		if (w->exited && w->out < 0)
			return; /* its output is complete; the rest of its group may stay */
		if (now >= spec->deadline_ms) {
			w->timed_out = !w->exited;
			w->kill_group = true;
			return;
		}
		wait = spec->deadline_ms - now;
		if (w->exited)
			wait = min_u64(wait, exited_at + spec->straggler_ms - now);
		if (w->out >= 0)
			p[np++] = (struct pollfd){.fd = w->out, .events = POLLIN};
		if (w->ex >= 0)
			p[np++] = (struct pollfd){.fd = w->ex, .events = POLLIN};
		if (!w->exited && w->pidfd >= 0)
			p[np++] = (struct pollfd){.fd = w->pidfd, .events = POLLIN};
		else if (!w->exited)
			wait = min_u64(wait, EXIT_TICK_MS);
		if (poll(p, np, poll_ms(wait)) <= 0)
			continue;
		for (nfds_t i = 0; i < np; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == w->out)
				read_output(w, output);
			else if (p[i].fd == w->ex)
				read_exec_errno(w);
		}
	}
}

int child_run(const struct child_spec *spec, struct child_result *res, struct buf *output,
	      struct error *err)
{
	struct watch w = {.pid = -1, .out = -1, .ex = -1, .pidfd = -1, .cap = spec->output_cap};
	int out[2] = {-1, -1}, ex[2] = {-1, -1}, null_fd = -1, status = 0, e, rc = -1;
	char **envp = NULL;
	sigset_t all, old;
	long max_fd;

	memset(res, 0, sizeof(*res));
	if (!spec->argv || !spec->argv[0] || !spec->argv[0][0]) {
		/* what exec would say; nothing is exec'd for an empty command */
		res->end = CHILD_NOT_RUN;
		res->code = ENOENT;
		return 0;
	}
	/* everything the child uses is made now: after fork it may not allocate */
	envp = env_without(spec->env_drop);
	max_fd = sysconf(_SC_OPEN_MAX);
	if (max_fd < 0 || max_fd > FD_LIMIT)
		max_fd = FD_LIMIT;
	/* close-on-exec from the start: another thread's fork must not leak them */
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0) {
		error_set(err, "/dev/null: %s", strerror(errno));
		goto cleanup;
	}
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0) {
		error_set(err, "pipe: %s", strerror(errno));
		goto cleanup;
	}
	/* the read ends only: the command's stdout stays blocking, as programs expect */
	if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(ex[0], F_SETFL, O_NONBLOCK) < 0) {
		error_set(err, "fcntl: %s", strerror(errno));
		goto cleanup;
	}
	/* no handler of raptor's may run in the child before its dispositions
	 * are reset; the child clears this mask itself */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	w.pid = fork();
	e = errno;
	if (w.pid == 0)
		exec_child(spec->argv, envp, out[1], ex[1], null_fd, max_fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (w.pid < 0) {
		error_set(err, "fork: %s", strerror(e));
		goto cleanup;
	}
	setpgid(w.pid, w.pid); /* as the child does: whichever runs first makes the group */
	close_fd(&out[1]);
	close_fd(&ex[1]);
	close_fd(&null_fd);
	w.out = out[0];
	w.ex = ex[0];
	out[0] = ex[0] = -1;
#ifdef SYS_pidfd_open
	w.pidfd = (int)syscall(SYS_pidfd_open, w.pid, 0); /* close-on-exec by itself */
#endif

	watch_run(&w, spec, output);
	if (w.kill_group && !w.lost)
		kill(-w.pid, SIGKILL);
	if (w.timed_out)
		kill(w.pid, SIGKILL); /* in case it was never in the group */
	if (w.out >= 0)
		read_output(&w, output);
	if (w.ex >= 0)
		read_exec_errno(&w);
	/* only its own pid: another thread's children are not this one's business */
	while (!w.lost && waitpid(w.pid, &status, 0) < 0) {
		if (errno != EINTR)
			w.lost = true;
	}

	if (w.exec_errno) {
		res->end = CHILD_NOT_RUN;
		res->code = w.exec_errno;
	} else if (w.timed_out) {
		res->end = CHILD_TIMED_OUT;
	} else if (w.lost) {
		res->end = CHILD_LOST;
	} else if (WIFEXITED(status)) {
		res->end = CHILD_EXITED;
		res->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->end = CHILD_SIGNALED;
		res->code = WTERMSIG(status);
	} else {
		res->end = CHILD_LOST; /* waitpid reports no other end without WUNTRACED */
	}
	rc = 0;
cleanup:
	close_fd(&w.out);
	close_fd(&w.ex);
	close_fd(&w.pidfd);
	close_fd(&null_fd);
	for (int i = 0; i < 2; i++) {
		close_fd(&out[i]);
		close_fd(&ex[i]);
	}
	free(envp);
	return rc;
}
