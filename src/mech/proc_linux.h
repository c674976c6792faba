/* proc_linux — what the Linux files behind proc_os.h and mem_os.h
 * (proc_linux.c, mem_linux.c) share: reading a file of /proc/PID. */
#ifndef TEND_PROC_LINUX_H
#define TEND_PROC_LINUX_H

#include <stddef.h>
#include <sys/types.h>

/* Reads /proc/PID/FILE (at most CAP - 1 bytes, NUL added; the file may
 * hold NULs of its own).  Returns the length, or -1 (errno; ENOENT or
 * ESRCH: no such process). */
ssize_t proc_read_file(pid_t pid, const char *file, char *buf, size_t cap);

#endif
