/* export_compose — tend export compose: one compose.yaml (export.h). */
#include "export_int.h"

#include "parse.h"
#include "probe_spec.h"

#include <string.h>
#include <unistd.h>

static const struct exp_lost compose_lost[] = {
	{ "backoff", "Docker's restart delay is its own (doubling from 100ms)" },
	{ "max-crashes", "Docker never gives a restarting container up" },
	{ "stable-after", "Docker resets its delay after 10s of running" },
	{ "clean-restarts", "restart: always restarts every exit alike" },
	{ "success-codes", "Docker counts exit 0 alone as success" },
	{ "memory-warn", "Docker has no warning below the limit" },
	{ "watchdog", "a container has no sd_notify" },
	{ "start-timeout", "compose has no time limit on a start" },
	{ "listen-mode", "compose publishes no unix sockets" },
	{ "stdio", "tend connect shares the program's stdin and stdout among "
	  "clients; compose gives it none" },
	{ "max-instances", "it is about tend connect's clients (stdio)" },
	{ "share", "it is about tend connect's clients (stdio = mcp)" },
	{ "queue-timeout", "it is about tend connect's clients (stdio)" },
	{ "idle-stop", "a container runs until it is stopped" },
	{ "watch", "compose watches no files of a running service" },
	{ "watch-ignore", "compose watches no files of a running service" },
	{ "debounce", "compose watches no files of a running service" },
	{ "on-change", "compose watches no files of a running service" },
	{ "timeout", "compose has no time limit on a run" },
	{ "every", "compose has no schedule" },
	{ "max-failures", "compose has no circuit breaker for failed runs" },
	{ "cooldown", "compose has no circuit breaker for failed runs" },
	{ NULL, NULL },
};

static void set(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v);
}

/* NAME as a compose service name ([a-zA-Z0-9._-]). */
static char *service_name(const char *name)
{
	char *s = xstrdup(name);
	for (char *p = s; *p; p++)
		if (*p == '@')
			*p = '-';
	return s;
}

static json_t *words(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *healthcheck(const struct unit_config *u)
{
	struct probe_spec sp;
	if (!exp_probe(u, &sp))
		return NULL;
	json_t *h = json_object(), *test = json_array();
	char b[32], host[80], path[4096], port[16];
	unsigned p = 0;
	json_array_append_new(test, json_string("CMD"));
	if (sp.kind == PROBE_EXEC) {
		for (size_t i = 0; i < sp.argv.n; i++)
			json_array_append_new(test, json_string(sp.argv.v[i]));
	} else if (sp.kind == PROBE_UNIX) {
		json_array_append_new(test, json_string("nc"));
		json_array_append_new(test, json_string("-zU"));
		json_array_append_new(test, json_string(sp.addr.text));
	} else {
		char *t = xasprintf("tcp:%s", sp.addr.text);
		exp_addr(t, host, sizeof(host), &p, path, sizeof(path));
		free(t);
		snprintf(port, sizeof(port), "%u", p);
		if (sp.kind == PROBE_HTTP) {
			char *url = xasprintf("http://%s:%u%s", host, p, sp.path);
			json_array_append_new(test, json_string("curl"));
			json_array_append_new(test, json_string("-fsS"));
			json_array_append_new(test, json_string("-o"));
			json_array_append_new(test, json_string("/dev/null"));
			json_array_append_new(test, json_string(url));
			free(url);
		} else {
			json_array_append_new(test, json_string("nc"));
			json_array_append_new(test, json_string("-z"));
			json_array_append_new(test, json_string(host));
			json_array_append_new(test, json_string(port));
		}
	}
	probe_spec_free(&sp);
	set(h, "test", test);
	set(h, "interval", json_string(exp_go_duration(u->health_interval_ms, b)));
	set(h, "timeout", json_string(exp_go_duration(u->health_timeout_ms, b)));
	set(h, "retries", json_integer(u->health_strikes));
	if (u->ready != READY_HEALTH)
		set(h, "start_period", json_string(exp_go_duration(u->health_grace_ms, b)));
	return h;
}

/* depends_on from after: only units of the export can be named. */
static json_t *depends(const struct exp *x, const struct unit_config *u)
{
	json_t *d = json_object();
	for (size_t i = 0; i < u->after.n; i++) {
		char name[128];
		enum after_cond c = config_after_split(u->after.v[i], name, sizeof(name));
		const struct unit_config *dep = config_unit_named(x->cfg, name);
		if (!dep || !exp_exported(x, name))
			continue;
		const char *cond = c == AFTER_COMPLETED ? "service_completed_successfully"
			: c == AFTER_HEALTHY || (c == AFTER_READY && dep->health)
			? "service_healthy" : "service_started";
		json_t *o = json_object();
		set(o, "condition", json_string(cond));
		char *sn = service_name(name);
		set(d, sn, o);
		free(sn);
	}
	if (json_object_size(d))
		return d;
	json_decref(d);
	return NULL;
}

static json_t *ports(const struct unit_config *u)
{
	json_t *a = json_array();
	unsigned target = 0;
	char host[80], path[4096];
	if (u->backend)
		exp_addr(u->backend, host, sizeof(host), &target, path, sizeof(path));
	for (size_t i = 0; i < u->listen.n; i++) {
		unsigned port;
		exp_addr(u->listen.v[i], host, sizeof(host), &port, path, sizeof(path));
		if (!port)
			continue;
		json_t *o = json_object();
		size_t hl = strlen(host);
		set(o, "target", json_integer(target ? target : port));
		set(o, "published", json_integer(port));
		/* compose writes an IPv6 host without brackets */
		set(o, "host_ip", host[0] == '[' ? json_stringn(host + 1, hl - 2)
		                                 : json_string(host));
		set(o, "protocol", json_string("tcp"));
		json_array_append_new(a, o);
	}
	if (json_array_size(a))
		return a;
	json_decref(a);
	return NULL;
}

static json_t *service(const struct exp *x, const struct unit_config *u)
{
	json_t *s = json_object(), *v;
	char b[32];
	char *sn = service_name(u->name);
	set(s, "image", json_string(sn));
	free(sn);
	set(s, "entrypoint", words(u->argv.v, 1));
	set(s, "command", words(u->argv.v + 1, u->argv.n - 1));
	if (u->cwd)
		set(s, "working_dir", json_string(u->cwd));
	if (u->env_keys.n) {
		json_t *e = json_object();
		for (size_t i = 0; i < u->env_keys.n; i++) {
			const char *w = u->env_keys.v[i], *eq = strchr(w, '=');
			char *k = eq ? strndup(w, (size_t)(eq - w)) : xstrdup(w);
			set(e, k, json_string(eq ? eq + 1 : ""));
			free(k);
		}
		set(s, "environment", e);
	}
	if (u->env_files.n) {
		/* compose reads the files itself; environment wins, as env does */
		json_t *a = json_array();
		for (size_t i = 0; i < u->env_files.n; i++) {
			const char *p = u->env_files.v[i];
			if (p[0] == '-' && access(p + 1, F_OK) != 0)
				continue;   /* optional and missing: noted */
			json_array_append_new(a, json_string(p[0] == '-' ? p + 1 : p));
		}
		if (json_array_size(a))
			set(s, "env_file", a);
		else
			json_decref(a);
	}
	set(s, "restart", json_string(u->kind == KIND_JOB ? "no"
	    : u->policy.restart == RESTART_ALWAYS ? "always"
	    : u->policy.restart == RESTART_NEVER ? "no" : "on-failure"));
	/* an init as PID 1 reaps and signals what the program leaves behind */
	set(s, "init", json_true());
	char sig[40];
	snprintf(sig, sizeof(sig), "SIG%s", signal_name(u->stop_signal));
	set(s, "stop_signal", json_string(strncmp(sig, "SIGSIG", 6) ? sig : sig + 3));
	set(s, "stop_grace_period", json_string(exp_go_duration(u->stop_timeout_ms, b)));
	if (u->memory_max)
		set(s, "mem_limit", json_integer((json_int_t)u->memory_max));
	if ((v = healthcheck(u)))
		set(s, "healthcheck", v);
	if ((v = ports(u)))
		set(s, "ports", v);
	if ((v = depends(x, u)))
		set(s, "depends_on", v);
	return s;
}

static void partial_notes(struct exp *x, const struct unit_config *u)
{
	if (u->kind == KIND_SERVICE && u->start == START_ON_DEMAND)
		exp_note(x, u, "start", "compose starts the service at once, not "
		         "when a client comes");
	if (u->ready == READY_NOTIFY)
		exp_note(x, u, "ready", "a container has no sd_notify: ready as "
		         "soon as it runs");
	for (size_t i = 0; i < u->listen.n; i++)
		if (strncmp(u->listen.v[i], "unix:", 5) == 0)
			exp_note(x, u, "listen", "%s: compose publishes no unix "
			         "sockets", u->listen.v[i]);
	if (u->listen.n && !u->backend)
		exp_note(x, u, "listen", "the program takes its sockets from "
		         "tend (LISTEN_FDS); in a container it must bind the port "
		         "itself");
	for (size_t i = 0; i < u->env_files.n; i++)
		if (u->env_files.v[i][0] == '-' && access(u->env_files.v[i] + 1, F_OK))
			exp_note(x, u, "env-file", "%s is missing, and compose's "
			         "env_file must exist: left out", u->env_files.v[i] + 1);
	for (size_t i = 0; i < u->after.n; i++) {
		char name[128];
		config_after_split(u->after.v[i], name, sizeof(name));
		if (!exp_exported(x, name))
			exp_note(x, u, "after", "%s is not exported: depends_on "
			         "can name only services of the file", name);
		const struct unit_config *dep = config_unit_named(x->cfg, name);
		if (dep && dep->ready == READY_NOTIFY)
			exp_note(x, u, "after", "%s is ready by sd_notify, which "
			         "compose has not: started is waited for", name);
	}
}

int export_compose(struct exp *x)
{
	FILE *f = exp_open(x, "compose.yaml");
	if (!f)
		return -1;
	exp_head(x, f, NULL);
	fputs("# The image of each service is named after its unit: build it "
	      "with the\n# program, or write the image's name.  Health checks "
	      "run in the container\n# (curl for http, nc for tcp and unix); "
	      "a published port reaches the program\n# on the container's "
	      "address (0.0.0.0), not on 127.0.0.1 alone.\nservices:\n", f);
	for (size_t i = 0; i < x->nunits; i++) {
		const struct unit_config *u = x->units[i];
		exp_notes_begin(x, u, compose_lost);
		partial_notes(x, u);
		fprintf(f, "  # [%s %s], line %d\n", unit_kind_name(u->kind), u->name,
		        u->line);
		exp_notes_write(x, f, "  ", false);
		json_t *o = json_object();
		char *sn = service_name(u->name);
		set(o, sn, exp_literal(service(x, u)));
		free(sn);
		exp_yaml(f, o, 2);
		json_decref(o);
	}
	exp_close(x, f);
	return 0;
}
