/*
 * vmm_store.c - instances as files (docs/store.md).
 *
 * Concurrency: several processes may open the same instance; the one holding
 * NAME/lock owns it (writes state, runs it).  NAME/state is only ever replaced
 * by rename(2), so a reader sees the old or the new file, never a mix.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#include "vmm_store.h"

static __thread char store_errbuf[256];

const char *const vmm_stat_names[VMST_COUNT] = {
	[VMST_RUNS] = "vm_run calls",
	[VMST_EXITS] = "exits to userland",
	[VMST_BACKEND_ENTRIES] = "backend entries",
	[VMST_INSNS] = "instructions retired",
	[VMST_TLB_FLUSHES] = "tlb flushes",
	[VMST_HLT_SLEEPS] = "hlt sleeps",
	[VMST_KICKS] = "vcpu kicks",
	[VMST_EXIT_BASE + VM_EXITCODE_INOUT] = "exits: inout",
	[VMST_EXIT_BASE + VM_EXITCODE_VMX] = "exits: vmx",
	[VMST_EXIT_BASE + VM_EXITCODE_BOGUS] = "exits: bogus (kicked)",
	[VMST_EXIT_BASE + VM_EXITCODE_RDMSR] = "exits: rdmsr",
	[VMST_EXIT_BASE + VM_EXITCODE_WRMSR] = "exits: wrmsr",
	[VMST_EXIT_BASE + VM_EXITCODE_HLT] = "exits: hlt",
	[VMST_EXIT_BASE + VM_EXITCODE_MTRAP] = "exits: mtrap",
	[VMST_EXIT_BASE + VM_EXITCODE_PAUSE] = "exits: pause",
	[VMST_EXIT_BASE + VM_EXITCODE_PAGING] = "exits: paging",
	[VMST_EXIT_BASE + VM_EXITCODE_INST_EMUL] = "exits: inst_emul (mmio)",
	[VMST_EXIT_BASE + VM_EXITCODE_SPINUP_AP] = "exits: spinup_ap",
	[VMST_EXIT_BASE + VM_EXITCODE_DEPRECATED1] = "exits: deprecated1",
	[VMST_EXIT_BASE + VM_EXITCODE_RENDEZVOUS] = "exits: rendezvous",
	[VMST_EXIT_BASE + VM_EXITCODE_IOAPIC_EOI] = "exits: ioapic_eoi",
	[VMST_EXIT_BASE + VM_EXITCODE_SUSPENDED] = "exits: suspended",
	[VMST_EXIT_BASE + VM_EXITCODE_MWAIT] = "exits: mwait",
	[VMST_EXIT_BASE + VM_EXITCODE_SVM] = "exits: svm",
	[VMST_EXIT_BASE + VM_EXITCODE_REQIDLE] = "exits: reqidle",
	[VMST_EXIT_BASE + VM_EXITCODE_DEBUG] = "exits: debug",
	[VMST_EXIT_BASE + VM_EXITCODE_VMINSN] = "exits: vminsn",
	[VMST_EXIT_BASE + VM_EXITCODE_BPT] = "exits: bpt",
	[VMST_EXIT_BASE + VM_EXITCODE_IPI] = "exits: ipi",
	[VMST_EXIT_BASE + VM_EXITCODE_DBG] = "exits: dbg",
	[VMST_EXIT_BASE + VM_EXITCODE_INST_UNIMPL] = "exits: inst_unimpl",
	[VMST_EXIT_BASE + VM_EXITCODE_BACKEND_ERROR] = "exits: backend_error",
};

const char *
vmm_store_strerror(void)
{
	return store_errbuf;
}

void
vmm_store_clear_error(void)
{
	store_errbuf[0] = '\0';
}

int
vmm_store_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(store_errbuf, sizeof(store_errbuf), fmt, ap);
	va_end(ap);
	return -err;
}

const char *
vmm_store_dir(void)
{
	static __thread char dir[PATH_MAX];
	const char *env;

	env = getenv("VMM_DIR");
	if (env != NULL && env[0] != '\0')
		return env;
	if (geteuid() == 0)
		return "/run/vmm";
	env = getenv("XDG_RUNTIME_DIR");
	if (env != NULL && env[0] != '\0') {
		snprintf(dir, sizeof(dir), "%s/vmm", env);
		return dir;
	}
	snprintf(dir, sizeof(dir), "/tmp/vmm-%u", (unsigned)getuid());
	return dir;
}

const char *
vmm_store_mem_dir(void)
{
	const char *env;
	struct stat sb;

	env = getenv("VMM_MEM_DIR");
	if (env != NULL && env[0] != '\0')
		return env;
	if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    access("/dev/shm", W_OK | X_OK) == 0)
		return "/dev/shm";
	return NULL;
}

int
vmm_store_check_name(const char *name)
{
	size_t i, n;

	if (name == NULL || name[0] == '\0')
		return vmm_store_fail(EINVAL, "empty VM name");
	n = strlen(name);
	if (n > VM_MAX_NAMELEN)
		return vmm_store_fail(ENAMETOOLONG,
		    "VM name '%.40s%s' is longer than %d characters", name,
		    n > 40 ? "..." : "", VM_MAX_NAMELEN);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return vmm_store_fail(EINVAL, "invalid VM name '%s'", name);
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return vmm_store_fail(EINVAL,
			    "invalid VM name '%s': only letters, digits, '.', '_' and '-' are allowed",
			    name);
	}
	return 0;
}

int
vmm_store_path(char *buf, size_t len, const char *name, const char *file)
{
	int n;

	if (file != NULL)
		n = snprintf(buf, len, "%s/%s/%s", vmm_store_dir(), name, file);
	else
		n = snprintf(buf, len, "%s/%s", vmm_store_dir(), name);
	if (n < 0 || (size_t)n >= len)
		return vmm_store_fail(ENAMETOOLONG, "store path too long");
	return 0;
}

/* mkdir -p for the store directory itself, private to its owner. */
static int
store_mkdir(void)
{
	char path[PATH_MAX], *p;

	if (snprintf(path, sizeof(path), "%s", vmm_store_dir()) >= (int)sizeof(path))
		return vmm_store_fail(ENAMETOOLONG, "store path too long");
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, c == '\0' ? 0700 : 0755) != 0 && errno != EEXIST)
			return vmm_store_fail(errno, "cannot create store %s: %s",
			    path, strerror(errno));
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

int
vmm_store_exists(const char *name)
{
	char path[PATH_MAX];
	struct stat sb;

	if (vmm_store_check_name(name) != 0 ||
	    vmm_store_path(path, sizeof(path), name, "state") != 0)
		return 0;
	return stat(path, &sb) == 0;
}

int
vmm_store_create(const char *name)
{
	char path[PATH_MAX];
	struct vmm_image *img;
	int error;

	if ((error = vmm_store_check_name(name)) != 0)
		return error;
	if ((error = store_mkdir()) != 0)
		return error;
	if ((error = vmm_store_path(path, sizeof(path), name, NULL)) != 0)
		return error;
	if (mkdir(path, 0700) != 0) {
		if (errno == EEXIST)
			return vmm_store_fail(EEXIST, "VM '%s' already exists", name);
		return vmm_store_fail(errno, "cannot create %s: %s", path,
		    strerror(errno));
	}
	img = calloc(1, sizeof(*img));
	if (img == NULL) {
		rmdir(path);
		return vmm_store_fail(ENOMEM, "out of memory");
	}
	vmm_image_init(img);
	error = vmm_store_save(name, img);
	vmm_image_fini(img);
	free(img);
	if (error != 0) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", vmm_store_strerror());
		vmm_store_destroy(name);
		return vmm_store_fail(-error, "%s", msg);
	}
	return 0;
}

int
vmm_store_destroy(const char *name)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;
	DIR *d;
	struct dirent *de;
	int error;

	if ((error = vmm_store_check_name(name)) != 0)
		return error;
	if ((error = vmm_store_path(path, sizeof(path), name, "mem")) != 0)
		return error;
	/* Guest RAM may live elsewhere: remove what the symlink names first. */
	n = readlink(path, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		unlink(target);
	}
	vmm_store_path(path, sizeof(path), name, NULL);
	d = opendir(path);
	if (d == NULL) {
		if (errno == ENOENT)
			return vmm_store_fail(ENOENT, "VM '%s' does not exist", name);
		return vmm_store_fail(errno, "cannot open %s: %s", path, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	if (rmdir(path) != 0)
		return vmm_store_fail(errno, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

int
vmm_store_lock(const char *name)
{
	char path[PATH_MAX], pid[32];
	int fd, error, n;

	if ((error = vmm_store_path(path, sizeof(path), name, "lock")) != 0)
		return error;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return vmm_store_fail(errno, "cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		error = errno;
		close(fd);
		if (error == EWOULDBLOCK)
			return vmm_store_fail(EBUSY, "VM '%s' is in use by process %ld",
			    name, vmm_store_lock_owner(name));
		return vmm_store_fail(error, "cannot lock %s: %s", path, strerror(error));
	}
	/* Record our pid for error messages; the lock itself is the flock. */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		/* Only diagnostics are lost; the lock holds. */
	}
	return fd;
}

void
vmm_store_clean_stale(const char *name)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;

	/* Only the lock holder serves NAME/ctl: one we find belongs to the dead. */
	if (vmm_store_path(path, sizeof(path), name, "ctl") == 0)
		unlink(path);
	/* A save that died between mkstemp and rename leaves state.XXXXXX. */
	if (vmm_store_path(path, sizeof(path), name, NULL) != 0 || (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "state.", 6) == 0 && strlen(de->d_name) == 12)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

void
vmm_store_boot_id(char *buf, size_t len)
{
	const char *env = getenv("LHYVE_BOOT_ID");
	ssize_t n = 0;
	int fd;

	if (env != NULL && env[0] != '\0') {
		snprintf(buf, len, "%s", env);
		n = (ssize_t)strlen(buf);
	} else if ((fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	/* It goes into the state file: printable ASCII only, no blanks. */
	buf[strcspn(buf, "\n")] = '\0';
	for (n = 0; buf[n] != '\0'; n++)
		if (buf[n] < 0x21 || buf[n] > 0x7e)
			buf[n] = '_';
}

long
vmm_store_lock_owner(const char *name)
{
	char path[PATH_MAX], buf[32];
	ssize_t n;
	int fd;

	if (vmm_store_path(path, sizeof(path), name, "lock") != 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

int
vmm_store_mem_create(const char *name, uint64_t size, int prealloc)
{
	char link[PATH_MAX], target[PATH_MAX];
	const char *dir;
	struct statvfs vfs;
	uint64_t avail;
	int fd, error;

	if ((error = vmm_store_path(link, sizeof(link), name, "mem")) != 0)
		return error;
	dir = vmm_store_mem_dir();
	if (dir == NULL) {
		snprintf(target, sizeof(target), "%s", link);
		fd = open(target, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	} else {
		if (snprintf(target, sizeof(target), "%s/lhyve-%s-XXXXXX", dir, name) >=
		    (int)sizeof(target))
			return vmm_store_fail(ENAMETOOLONG, "memory path too long");
		fd = mkostemp(target, O_CLOEXEC);
	}
	if (fd < 0)
		return vmm_store_fail(errno, "cannot create guest memory file in %s: %s",
		    dir ? dir : "the instance", strerror(errno));
	/* Sparse allocation: refuse now rather than SIGBUS later (issue #3). */
	if (fstatvfs(fd, &vfs) == 0) {
		avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		if (avail < size) {
			close(fd);
			unlink(target);
			return vmm_store_fail(ENOSPC,
			    "not enough space for %llu MiB of guest memory in %s (%llu MiB free); set VMM_MEM_DIR",
			    (unsigned long long)(size >> 20), dir ? dir : vmm_store_dir(),
			    (unsigned long long)(avail >> 20));
		}
	}
	if (ftruncate(fd, (off_t)size) != 0) {
		error = errno;
		close(fd);
		unlink(target);
		return vmm_store_fail(error, "cannot size guest memory: %s", strerror(error));
	}
	if (prealloc && (error = posix_fallocate(fd, 0, (off_t)size)) != 0) {
		close(fd);
		unlink(target);
		return vmm_store_fail(error, "cannot preallocate %llu MiB of guest memory: %s",
		    (unsigned long long)(size >> 20), strerror(error));
	}
	if (dir != NULL && symlink(target, link) != 0) {
		error = errno;
		close(fd);
		unlink(target);
		return vmm_store_fail(error, "cannot link %s: %s", link, strerror(error));
	}
	return fd;
}

int
vmm_store_mem_open(const char *name, uint64_t *size)
{
	char path[PATH_MAX];
	struct stat sb;
	int fd, error;

	if ((error = vmm_store_path(path, sizeof(path), name, "mem")) != 0)
		return error;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		/* Typically /dev/shm after a host reboot (docs/store.md). */
		return vmm_store_fail(ENXIO, "cannot open guest memory of '%s': the memory file "
		    "is gone (host restarted? VMM_MEM_DIR on a disk keeps it)", name);
	if (fd < 0)
		return vmm_store_fail(errno, "cannot open guest memory of '%s': %s", name,
		    strerror(errno));
	if (fstat(fd, &sb) != 0) {
		error = errno;
		close(fd);
		return vmm_store_fail(error, "cannot stat guest memory: %s", strerror(error));
	}
	*size = (uint64_t)sb.st_size;
	return fd;
}

int
vmm_store_load(const char *name, struct vmm_image *img)
{
	char path[PATH_MAX];
	struct stat sb;
	uint8_t *buf;
	ssize_t n;
	int fd, error;

	if ((error = vmm_store_check_name(name)) != 0)
		return error;
	if ((error = vmm_store_path(path, sizeof(path), name, "state")) != 0)
		return error;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return vmm_store_fail(ENOENT, "VM '%s' does not exist (in %s)", name,
			    vmm_store_dir());
		return vmm_store_fail(errno, "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) != 0 || sb.st_size > VMM_STATE_MAX_SIZE) {
		close(fd);
		return vmm_store_fail(EBADMSG, "%s: not a state file", path);
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return vmm_store_fail(ENOMEM, "out of memory");
	}
	n = pread(fd, buf, (size_t)sb.st_size, 0);
	close(fd);
	if (n != sb.st_size) {
		free(buf);
		return vmm_store_fail(EIO, "cannot read %s", path);
	}
	error = vmm_state_parse(buf, (size_t)n, img);
	free(buf);
	if (error != 0) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", vmm_store_strerror());
		return vmm_store_fail(-error, "VM '%s': %.200s", name, msg);
	}
	return 0;
}

int
vmm_store_save(const char *name, const struct vmm_image *img)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16], dir[PATH_MAX];
	uint8_t *buf;
	size_t len, off;
	ssize_t n;
	int fd, dfd, error;

	if ((error = vmm_store_path(path, sizeof(path), name, "state")) != 0)
		return error;
	vmm_store_path(dir, sizeof(dir), name, NULL);
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if ((error = vmm_state_serialize(img, &buf, &len)) != 0)
		return error;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		error = errno;
		free(buf);
		return vmm_store_fail(error, "cannot write state of '%s': %s", name,
		    strerror(error));
	}
	for (off = 0; off < len; off += (size_t)n) {
		n = write(fd, buf + off, len - off);
		if (n <= 0) {
			error = n < 0 ? errno : EIO;
			goto fail;
		}
	}
	/* Write temp, fsync, rename, fsync the directory: all or nothing. */
	if (fsync(fd) != 0) {
		error = errno;
		goto fail;
	}
	close(fd);
	free(buf);
	if (rename(tmp, path) != 0) {
		error = errno;
		unlink(tmp);
		return vmm_store_fail(error, "cannot replace %s: %s", path, strerror(error));
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	free(buf);
	return vmm_store_fail(error, "cannot write state of '%s': %s", name, strerror(error));
}
