/* sup_host — what units and the endpoints that feed them ask of the
 * supervisor (unit.h's unit_host_ops): each call passed on to the sup
 * function that answers it, or to the unit's job, sessions or proxy,
 * which the supervisor keeps with the unit (unit_ext.h). */
#include "sup_int.h"
#include "job.h"
#include "proxy.h"
#include "share.h"
#include "sup_deps.h"
#include "sup_procs.h"
#include "sup_tree.h"
#include "unit_ext.h"

static void host_changed(void *ctx, struct unit *u) { sup_unit_changed(ctx, u); }
static void host_rescan(void *ctx) { sup_rescan(ctx); }
static void host_spawned(void *ctx, struct unit *u) { sup_spawned(ctx, u); }
static double host_jitter(void *ctx) { return sup_jitter(ctx); }
static void host_fds_check(void *ctx) { sup_fds_check(ctx); }
static void host_drop(void *ctx, struct unit *u) { sup_drop(ctx, u); }

static size_t host_tree(void *ctx, const struct unit *u,
                        const struct proc_stat **members)
{
	return sup_tree(ctx, u, members);
}

static struct unit *host_owner(void *ctx, pid_t pid, bool *gone)
{
	return sup_owner(ctx, pid, gone);
}

static void host_fds_short(void *ctx, const char *what)
{
	sup_fds_short(ctx, what);
}

static void host_disk_short(void *ctx, const char *path, int err)
{
	sup_disk_short(ctx, path, err);
}

static int host_deps(void *ctx, struct unit *u, bool start, char **why)
{
	return sup_deps(ctx, u, start, why);
}

static void host_clients_changed(void *ctx, struct unit *u)
{
	sup_clients_changed(ctx, u);
}

static struct unit *host_add_instance(void *ctx, struct unit *parent,
                                      const char *name, bool per_client)
{
	return sup_add_instance(ctx, parent, name, per_client);
}

/* A run's descriptors: a session's pipes (share.h), listen sockets
 * (proxy.h). */
static int host_run_fds(void *ctx, struct unit *u, int *in, int *out,
                        int *fds, size_t max, size_t *nfds)
{
	(void)ctx;
	struct unit_ext *x = unit_ext(u);
	if (x->share && share_spawn_fds(x->share, u, in, out) < 0)
		return -1;
	*nfds = x->proxy ? proxy_spawn_fds(x->proxy, fds, max) : 0;
	return 0;
}

/* A run's steps go to the unit's job and sessions; the measures of a run
 * start afresh with it. */
static void host_run_step(void *ctx, struct unit *u, enum run_step step)
{
	(void)ctx;
	struct unit_ext *x = unit_ext(u);
	switch (step) {
	case RUN_BEGIN:
		x->m.mem_warned = false;
		x->m.top_pid = 0;
		x->m.top_bytes = 0;
		x->m.peak_mem = 0;
		break;
	case RUN_STARTING:
		if (x->job)
			job_run_starting(x->job);
		break;
	case RUN_SPAWNED:
	case RUN_SPAWN_FAILED:
		if (x->share)
			share_spawned(x->share, u, step == RUN_SPAWNED);
		break;
	case RUN_STARTED:
		if (x->job)
			job_run_started(x->job);
		break;
	case RUN_EXITED:
		if (x->share)
			share_on_state(x->share, u);
		break;
	case RUN_OVER:
		if (x->job)
			job_run_over(x->job);
		break;
	}
}

static bool host_busy(void *ctx, const struct unit *u)
{
	(void)ctx;
	struct unit_ext *x = unit_ext(u);
	return x->share && share_busy(x->share, u);
}

const struct unit_host_ops sup_host_ops = {
	.changed = host_changed, .tree = host_tree, .rescan = host_rescan,
	.owner = host_owner, .spawned = host_spawned, .jitter = host_jitter,
	.fds_short = host_fds_short, .fds_check = host_fds_check,
	.disk_short = host_disk_short, .run_fds = host_run_fds,
	.run_step = host_run_step, .busy = host_busy,
	.add_instance = host_add_instance, .drop = host_drop,
	.clients_changed = host_clients_changed, .deps = host_deps,
};

