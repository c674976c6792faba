/* export_k8s — tend export kubernetes: one manifest (export.h). */
#include "export_int.h"

#include "probe_spec.h"

#include <string.h>

static const struct exp_lost k8s_lost[] = {
	{ "backoff", "the kubelet's restart delay is its own (10s, doubling "
	  "to 5m)" },
	{ "max-crashes", "Kubernetes never gives a pod up (CrashLoopBackOff)" },
	{ "stable-after", "the kubelet forgets crashes after 10 minutes of "
	  "running" },
	{ "clean-restarts", "a Deployment restarts every exit alike" },
	{ "stop-signal", "a container's stop signal is its image's "
	  "(STOPSIGNAL)" },
	{ "memory-warn", "Kubernetes has no warning below the limit" },
	{ "watchdog", "a pod has no sd_notify" },
	{ "listen-mode", "a Service has no unix sockets" },
	{ "stdio", "tend connect shares the program's stdin and stdout among "
	  "clients; a pod gives it none" },
	{ "max-instances", "it is about tend connect's clients (stdio)" },
	{ "share", "it is about tend connect's clients (stdio = mcp)" },
	{ "queue-timeout", "it is about tend connect's clients (stdio)" },
	{ "idle-stop", "a Deployment keeps its pod running (no scale to "
	  "zero)" },
	{ "watch", "a pod has no file watches" },
	{ "watch-ignore", "a pod has no file watches" },
	{ "debounce", "a pod has no file watches" },
	{ "on-change", "a pod has no file watches" },
	{ "after", "Kubernetes starts every workload at once, in no order" },
	{ "max-failures", "a CronJob has no circuit breaker for failed runs" },
	{ "cooldown", "a CronJob has no circuit breaker for failed runs" },
	{ NULL, NULL },
};

static void set(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v);
}

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* A cron schedule for EVERY_MS: exact when one says it (*EXACT), else
 * the nearest of those cron can say. */
static const char *schedule(uint64_t every_ms, bool *exact, char buf[64])
{
	static const unsigned mins[] = { 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 };
	static const unsigned hours[] = { 1, 2, 3, 4, 6, 8, 12 };
	double best = 0;
	uint64_t best_ms = 0;
	for (size_t i = 0; i < ARRAY_LEN(mins) + ARRAY_LEN(hours) + 2; i++) {
		uint64_t ms = i < ARRAY_LEN(mins) ? mins[i] * 60000ULL
			: i < ARRAY_LEN(mins) + ARRAY_LEN(hours)
			? hours[i - ARRAY_LEN(mins)] * 3600000ULL
			: i == ARRAY_LEN(mins) + ARRAY_LEN(hours) ? 86400000ULL
			: 7 * 86400000ULL;
		/* the nearest by ratio */
		double d = ms > every_ms ? (double)ms / (double)every_ms
		                         : (double)every_ms / (double)ms;
		if (best == 0 || d < best) {
			best = d;
			best_ms = ms;
		}
	}
	*exact = best_ms == every_ms;
	if (best_ms < 3600000)
		snprintf(buf, 64, best_ms == 60000 ? "* * * * *" : "*/%llu * * * *",
		         (unsigned long long)(best_ms / 60000));
	else if (best_ms < 86400000)
		snprintf(buf, 64, best_ms == 3600000 ? "0 * * * *" : "0 */%llu * * *",
		         (unsigned long long)(best_ms / 3600000));
	else
		snprintf(buf, 64, best_ms == 86400000 ? "0 0 * * *" : "0 0 * * 0");
	return buf;
}

/* The probe handler of U's health into O; false after a note. */
static bool probe_handler(const struct unit_config *u, json_t *o)
{
	struct probe_spec sp;
	if (!exp_probe(u, &sp))
		return false;
	char host[80], path[4096];
	unsigned port = 0;
	bool ok = true;
	if (sp.kind == PROBE_EXEC) {
		json_t *e = json_object();
		set(e, "command", strv_json(sp.argv.v, sp.argv.n));
		set(o, "exec", e);
	} else if (sp.kind == PROBE_UNIX) {
		ok = false;   /* noted (partial_notes) */
	} else {
		char *t = xasprintf("tcp:%s", sp.addr.text);
		exp_addr(t, host, sizeof(host), &port, path, sizeof(path));
		free(t);
		json_t *h = json_object();
		if (sp.kind == PROBE_HTTP)
			set(h, "path", json_string(sp.path));
		set(h, "port", json_integer(port));
		set(o, sp.kind == PROBE_HTTP ? "httpGet" : "tcpSocket", h);
	}
	probe_spec_free(&sp);
	return ok;
}

static void probes(const struct unit_config *u, json_t *c)
{
	json_t *live = json_object(), *ready = json_object(), *start = json_object();
	if (!probe_handler(u, live) || !probe_handler(u, ready) ||
	    !probe_handler(u, start)) {
		json_decref(live);
		json_decref(ready);
		json_decref(start);
		return;
	}
	long long period = exp_seconds(u->health_interval_ms);
	long long timeout = exp_seconds(u->health_timeout_ms);
	if (u->ready != READY_HEALTH)
		set(live, "initialDelaySeconds",
		    json_integer((json_int_t)(u->health_grace_ms / 1000)));
	set(live, "periodSeconds", json_integer(period));
	set(live, "timeoutSeconds", json_integer(timeout));
	set(live, "failureThreshold", json_integer(u->health_strikes));
	set(ready, "periodSeconds", json_integer(period));
	set(ready, "timeoutSeconds", json_integer(timeout));
	set(ready, "failureThreshold", json_integer(1));
	set(c, "livenessProbe", live);
	set(c, "readinessProbe", ready);
	/* ready = health: not ready within start-timeout is a restart; the
	 * other probes wait for this one */
	if (u->ready == READY_HEALTH && u->start_timeout_ms) {
		set(start, "periodSeconds", json_integer(1));
		set(start, "timeoutSeconds", json_integer(timeout));
		set(start, "failureThreshold",
		    json_integer(exp_seconds(u->start_timeout_ms)));
		set(c, "startupProbe", start);
	} else {
		json_decref(start);
	}
}

static json_t *labels(const char *dns)
{
	json_t *l = json_object();
	set(l, "app.kubernetes.io/name", json_string(dns));
	set(l, "app.kubernetes.io/managed-by", json_string("tend-export"));
	return l;
}

static json_t *metadata(const struct exp *x, const struct unit_config *u,
                        const char *name, const char *dns)
{
	json_t *m = json_object(), *a = json_object();
	set(m, "name", json_string(name));
	set(m, "labels", labels(dns));
	set(a, "tend/unit", json_string(u->name));
	set(a, "tend/file", json_string(x->cfg->path));
	set(m, "annotations", a);
	return m;
}

/* The port the program listens on for the listen address L of U: its
 * backend's with one, else L's own; 0 for a unix socket. */
static unsigned target_port(const struct unit_config *u, const char *l)
{
	char host[80], path[4096];
	unsigned port = 0;
	exp_addr(u->backend ? u->backend : l, host, sizeof(host), &port, path,
	         sizeof(path));
	return port;
}

static json_t *container(const struct unit_config *u, const char *dns)
{
	json_t *c = json_object();
	set(c, "name", json_string(dns));
	set(c, "image", json_string(dns));
	set(c, "command", exp_literal(strv_json(u->argv.v, 1)));
	set(c, "args", exp_literal(strv_json(u->argv.v + 1, u->argv.n - 1)));
	if (u->cwd)
		set(c, "workingDir", json_string(u->cwd));
	if (u->env_keys.n) {
		json_t *env = json_array();
		for (size_t i = 0; i < u->env_keys.n; i++) {
			const char *w = u->env_keys.v[i], *eq = strchr(w, '=');
			json_t *e = json_object();
			set(e, "name", eq ? json_stringn(w, (size_t)(eq - w)) : json_string(w));
			set(e, "value", exp_literal(json_string(eq ? eq + 1 : "")));
			json_array_append_new(env, e);
		}
		set(c, "env", env);
	}
	if (u->env_file_vars.n) {
		char *cm = xasprintf("%s-env", dns);
		json_t *ref = json_object(), *from = json_object();
		set(ref, "name", json_string(cm));
		set(from, "configMapRef", ref);
		json_t *a = json_array();
		json_array_append_new(a, from);
		set(c, "envFrom", a);
		free(cm);
	}
	json_t *ports = json_array();
	for (size_t i = 0; i < u->listen.n; i++) {
		unsigned p = target_port(u, u->listen.v[i]);
		if (!p)
			continue;
		json_t *o = json_object();
		set(o, "containerPort", json_integer(p));
		set(o, "protocol", json_string("TCP"));
		json_array_append_new(ports, o);
		if (u->backend)
			break;
	}
	if (json_array_size(ports))
		set(c, "ports", ports);
	else
		json_decref(ports);
	if (u->memory_max) {
		json_t *r = json_object(), *lim = json_object();
		char m[32];
		snprintf(m, sizeof(m), "%llu", (unsigned long long)u->memory_max);
		set(lim, "memory", json_string(m));
		set(r, "limits", lim);
		set(c, "resources", r);
	}
	if (u->kind == KIND_SERVICE)
		probes(u, c);
	return c;
}

static json_t *pod_template(const struct unit_config *u, const char *dns,
                            const char *restart)
{
	json_t *t = json_object(), *m = json_object(), *spec = json_object();
	json_t *cs = json_array();
	set(m, "labels", labels(dns));
	set(t, "metadata", m);
	json_array_append_new(cs, container(u, dns));
	set(spec, "containers", cs);
	set(spec, "restartPolicy", json_string(restart));
	set(spec, "terminationGracePeriodSeconds",
	    json_integer(exp_seconds(u->stop_timeout_ms)));
	set(t, "spec", spec);
	return t;
}

static json_t *workload(struct exp *x, const struct unit_config *u,
                        const char *dns)
{
	json_t *d = json_object(), *spec = json_object();
	if (u->kind == KIND_SERVICE) {
		set(d, "apiVersion", json_string("apps/v1"));
		set(d, "kind", json_string("Deployment"));
		set(d, "metadata", metadata(x, u, dns, dns));
		set(spec, "replicas", json_integer(1));
		json_t *sel = json_object();
		set(sel, "matchLabels", labels(dns));
		set(spec, "selector", sel);
		set(spec, "template", pod_template(u, dns, "Always"));
		set(d, "spec", spec);
		return d;
	}
	/* a job: tend never runs a failed run again by itself */
	json_t *job = json_object();
	set(job, "backoffLimit", json_integer(0));
	if (u->timeout_ms)
		set(job, "activeDeadlineSeconds", json_integer(exp_seconds(u->timeout_ms)));
	set(job, "template", pod_template(u, dns, "Never"));
	set(d, "apiVersion", json_string("batch/v1"));
	if (!u->every_ms) {
		set(d, "kind", json_string("Job"));
		set(d, "metadata", metadata(x, u, dns, dns));
		set(d, "spec", job);
		json_decref(spec);
		return d;
	}
	char buf[64];
	bool exact;
	set(d, "kind", json_string("CronJob"));
	set(d, "metadata", metadata(x, u, dns, dns));
	set(spec, "schedule", json_string(schedule(u->every_ms, &exact, buf)));
	/* one run at a time, as tend's jobs */
	set(spec, "concurrencyPolicy", json_string("Forbid"));
	json_t *jt = json_object();
	set(jt, "spec", job);
	set(spec, "jobTemplate", jt);
	set(d, "spec", spec);
	return d;
}

static json_t *config_map(const struct exp *x, const struct unit_config *u,
                          const char *dns)
{
	json_t *d = json_object(), *data = json_object();
	char *name = xasprintf("%s-env", dns);
	set(d, "apiVersion", json_string("v1"));
	set(d, "kind", json_string("ConfigMap"));
	set(d, "metadata", metadata(x, u, name, dns));
	for (size_t i = 0; i < u->env_file_vars.n; i++) {
		const char *w = u->env_file_vars.v[i], *eq = strchr(w, '=');
		if (!eq)
			continue;
		char *k = strndup(w, (size_t)(eq - w));
		set(data, k, json_string(eq + 1));
		free(k);
	}
	set(d, "data", data);
	free(name);
	return d;
}

static json_t *service(const struct exp *x, const struct unit_config *u,
                       const char *dns, size_t i, unsigned port)
{
	json_t *d = json_object(), *spec = json_object(), *ports = json_array();
	json_t *p = json_object();
	char *name = i ? xasprintf("%s-%zu", dns, i + 1) : xstrdup(dns);
	set(d, "apiVersion", json_string("v1"));
	set(d, "kind", json_string("Service"));
	set(d, "metadata", metadata(x, u, name, dns));
	set(spec, "selector", labels(dns));
	set(p, "port", json_integer(port));
	set(p, "targetPort", json_integer(target_port(u, u->listen.v[i])));
	set(p, "protocol", json_string("TCP"));
	json_array_append_new(ports, p);
	set(spec, "ports", ports);
	set(d, "spec", spec);
	free(name);
	return d;
}

static void partial_notes(struct exp *x, const struct unit_config *u)
{
	/* the default too: a service that exits cleanly to stay stopped */
	if (u->kind == KIND_SERVICE && u->policy.restart != RESTART_ALWAYS)
		exp_note(x, u, "restart", "a Deployment restarts its pod after "
		         "every exit%s", config_key_line(u, "restart") ? ""
		         : " (on-failure is tend's default)");
	if (config_key_line(u, "success-codes"))
		exp_note(x, u, "success-codes", "Kubernetes counts exit 0 alone "
		         "as success");
	if (u->kind == KIND_SERVICE && u->start == START_ON_DEMAND)
		exp_note(x, u, "start", "a Deployment runs at once, not when a "
		         "client comes");
	if (u->ready == READY_NOTIFY)
		exp_note(x, u, "ready", "a pod has no sd_notify: ready as soon as "
		         "it runs");
	if (config_key_line(u, "start-timeout") &&
	    !(u->ready == READY_HEALTH && u->health))
		exp_note(x, u, "start-timeout", "Kubernetes times a start only "
		         "through a probe (a startupProbe, written for ready = "
		         "health)");
	struct probe_spec sp;
	if (u->kind == KIND_SERVICE && exp_probe(u, &sp)) {
		if (sp.kind == PROBE_UNIX)
			exp_note(x, u, "health", "a probe of a unix socket has no "
			         "counterpart (write health = exec:CMD)");
		probe_spec_free(&sp);
	}
	if (u->every_ms) {
		char buf[64], d[32];
		bool exact;
		schedule(u->every_ms, &exact, buf);
		if (!exact)
			exp_note(x, u, "every", "cron cannot say every %s: the "
			         "CronJob runs on \"%s\"",
			         exp_go_duration(u->every_ms, d), buf);
	}
	for (size_t i = 0; i < u->listen.n; i++) {
		char host[80], path[4096];
		unsigned port;
		exp_addr(u->listen.v[i], host, sizeof(host), &port, path, sizeof(path));
		if (path[0])
			exp_note(x, u, "listen", "unix:%s: a Service has no unix "
			         "sockets", path);
	}
	if (u->listen.n && !u->backend)
		exp_note(x, u, "listen", "the program takes its sockets from "
		         "tend (LISTEN_FDS); in a pod it must bind the port itself");
}

int export_kubernetes(struct exp *x)
{
	FILE *f = exp_open(x, "kubernetes.yaml");
	if (!f)
		return -1;
	exp_head(x, f, NULL);
	fputs("# The image of each container is named after its unit: build it "
	      "with the\n# program, or write the image's name.  Probes go to "
	      "the pod's address:\n# the program listens there (0.0.0.0), not "
	      "on 127.0.0.1 alone.\n", f);
	for (size_t i = 0; i < x->nunits; i++) {
		const struct unit_config *u = x->units[i];
		char *dns = exp_dns_name(u->name);
		exp_notes_begin(x, u, k8s_lost);
		partial_notes(x, u);
		fprintf(f, "---\n# [%s %s], line %d\n", unit_kind_name(u->kind),
		        u->name, u->line);
		exp_notes_write(x, f, "", false);
		json_t *w = workload(x, u, dns);
		exp_yaml(f, w, 0);
		json_decref(w);
		if (u->env_file_vars.n) {
			fputs("---\n# the variables of its env-file, read now (for "
			      "secrets: a Secret and secretRef)\n", f);
			json_t *cm = config_map(x, u, dns);
			exp_yaml(f, cm, 0);
			json_decref(cm);
		}
		for (size_t k = 0; k < u->listen.n; k++) {
			char host[80], path[4096];
			unsigned port;
			exp_addr(u->listen.v[k], host, sizeof(host), &port, path,
			         sizeof(path));
			if (!port)
				continue;
			fputs("---\n", f);
			json_t *s = service(x, u, dns, k, port);
			exp_yaml(f, s, 0);
			json_decref(s);
		}
		free(dns);
	}
	exp_close(x, f);
	return 0;
}
