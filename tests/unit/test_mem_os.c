/* Unit tests for mem_os.h, whichever file implements it (today
 * mem_linux.c), on real processes: a child that touches anonymous memory
 * and maps shared memory is counted as mem.h says, a gone process is an
 * error.  A new system's file passes these as they are (where it reads
 * no rollup, the rollup test skips). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mem.h"
#include "mem_os.h"
#include "proc_os.h"

#define MIB (1024ull * 1024)

/* A child holding 32 MiB of its own (touched) and SHARED (a MAP_SHARED
 * segment, touched by the parent first); it waits for SIGKILL. */
static pid_t holder(char *shared, size_t shared_len)
{
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (proc_die_with_parent(SIGKILL) < 0)   /* should the test fail */
			_exit(1);
		size_t len = 32 * MIB;
		char *own = mmap(NULL, len, PROT_READ | PROT_WRITE,
		                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (own == MAP_FAILED)
			_exit(1);
		memset(own, 1, len);
		volatile char sum = 0;
		for (size_t i = 0; i < shared_len; i += 4096)
			sum = (char)(sum + shared[i]);   /* mapped here too */
		(void)sum;
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	char c;
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

static void counts_a_live_process(void **state)
{
	(void)state;
	size_t shared_len = 8 * MIB;
	char *shared = mmap(NULL, shared_len, PROT_READ | PROT_WRITE,
	                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(shared != MAP_FAILED);
	memset(shared, 2, shared_len);
	pid_t pid = holder(shared, shared_len);

	struct mem_status st;
	assert_int_equal(proc_read_status_mem(pid, &st), 0);
	assert_true(st.has_vm);
	assert_true(st.anon >= 32 * MIB);
	assert_true(st.shmem >= shared_len);
	uint64_t bytes = 0;
	assert_int_equal(proc_read_mem(pid, &bytes), 0);
	if (!mem_needs_rollup(&st))
		assert_int_equal(bytes, mem_counted(&st));   /* the child is still */

	struct mem_rollup r;
	int rollup = proc_read_rollup(pid, &r);
	if (rollup == 0 && r.has_split) {
		/* The shared segment is half the child's: the parent maps it too. */
		assert_true(r.pss_anon >= 32 * MIB);
		assert_true(r.pss_shmem >= shared_len / 2 - MIB);
		assert_true(r.pss_shmem <= shared_len / 2 + MIB);
		assert_true(mem_share(&st, &r) < mem_counted(&st));
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	munmap(shared, shared_len);
	if (rollup < 0)
		skip();   /* no smaps_rollup (before 4.14) */
	assert_true(r.has_pss);
}

static void a_gone_process_is_an_error(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	struct mem_status st;
	struct mem_rollup r;
	uint64_t bytes;
	assert_int_equal(proc_read_status_mem(pid, &st), -1);
	assert_int_equal(proc_read_rollup(pid, &r), -1);
	assert_true(errno == ENOENT || errno == ESRCH);
	assert_int_equal(proc_read_mem(pid, &bytes), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counts_a_live_process),
		cmocka_unit_test(a_gone_process_is_an_error),
	};
	return cmocka_run_group_tests_name("mem_os", tests, NULL, NULL);
}
