#include "ctl.h"
#include "reply.h"
#include "util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *ctl_cmd_name(enum ctl_cmd c)
{
	const struct cmd_info *ci = cmd_info(c);
	return ci ? ci->name : "?";
}

/* Sets *ERR to MSG (taken over) made one line. */
static int fail(char **err, char *msg)
{
	*err = one_line(msg);
	free(msg);
	return -1;
}

/* A string without NUL bytes, as C sees it whole; NULL otherwise. */
static const char *whole_string(json_t *v)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

/* An array of strings as a NULL-terminated vector (*OUT); PAIRS: an array
 * of [KEY, VALUE] arrays, flattened.  NONEMPTY: at least one element.
 * Returns 0, or -1 with *ERR. */
static int string_list(json_t *v, const char *key, bool pairs, bool nonempty,
                       char ***out, size_t *n, char **err)
{
	if (!json_is_array(v) || (nonempty && json_array_size(v) == 0))
		return fail(err, xasprintf("\"%s\" must be %sarray of %s", key,
		                           nonempty ? "a non-empty " : "an ",
		                           pairs ? "[\"KEY\", \"VALUE\"] pairs"
		                                 : "strings"));
	size_t per = pairs ? 2 : 1, count = json_array_size(v);
	char **vec = xcalloc(count * per + 1, sizeof(*vec));
	*out = vec;
	for (size_t i = 0; i < count; i++) {
		json_t *e = json_array_get(v, i);
		for (size_t k = 0; k < per; k++) {
			json_t *x = pairs ? json_array_get(e, k) : e;
			const char *sv = whole_string(x);
			if (!sv || (pairs && json_array_size(e) != 2))
				return fail(err, xasprintf("\"%s\" must be %s (element %zu "
				                           "is not; no NUL bytes)", key, pairs
				                           ? "an array of [\"KEY\", \"VALUE\"] "
				                             "pairs of strings"
				                           : "an array of strings", i));
			vec[i * per + k] = xstrdup(sv);
		}
	}
	if (n)
		*n = count;
	return 0;
}

static void strings_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The flags a request may carry as fields: "wait": true. */
static const struct { const char *key; unsigned flag; } flag_fields[] = {
	{ "wait", CMD_WAIT }, { "join", CMD_JOIN }, { "force", CMD_FORCE },
};

static bool *flag_of(struct ctl_req *req, unsigned flag)
{
	return flag == CMD_WAIT ? &req->wait : flag == CMD_JOIN ? &req->join
	                                                        : &req->force;
}

/* A field of connect -- CMD: returns 0, 1 when KEY is none, or -1 with
 * *ERR. */
static int exec_field(const char *key, json_t *v, struct ctl_req *req,
                      char **err)
{
	if (strcmp(key, "exec") == 0)
		return string_list(v, key, false, true, &req->exec, NULL, err);
	if (strcmp(key, "env") == 0)
		return string_list(v, key, false, false, &req->env, NULL, err);
	if (strcmp(key, "set") == 0)
		return string_list(v, key, true, false, &req->set, &req->nset, err);
	if (strcmp(key, "cwd") != 0)
		return 1;
	const char *cwd = whole_string(v);
	if (!cwd || cwd[0] != '/')
		return fail(err, xstrdup("\"cwd\" must be an absolute path"));
	req->cwd = xstrdup(cwd);
	return 0;
}

/* A field of status: "version" (1 or 2), "history" (a boolean); returns
 * 0, 1 when KEY is none, or -1 with *ERR. */
static int status_field(const char *key, json_t *v, struct ctl_req *req,
                        char **err)
{
	if (strcmp(key, "version") == 0) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 2)
			return fail(err, xstrdup("\"version\" must be 1 or 2"));
		req->version = (int)json_integer_value(v);
		return 0;
	}
	if (strcmp(key, "history") != 0)
		return 1;
	if (!json_is_boolean(v))
		return fail(err, xstrdup("\"history\" must be true or false"));
	req->history = json_is_true(v);
	return 0;
}

/* The field KEY (not "cmd") of a request for CI, into REQ: returns 0, 1
 * when CI takes no such field, or -1 with *ERR. */
static int parse_field(const struct cmd_info *ci, const char *key, json_t *v,
                       struct ctl_req *req, char **err)
{
	if (strcmp(key, "name") == 0 && ci->takes_name != CMD_NAME_NONE) {
		if (!json_is_string(v) || !*json_string_value(v))
			return fail(err, xstrdup("\"name\" must be a non-empty string"));
		req->name = xstrdup(json_string_value(v));
		return 0;
	}
	if (strcmp(key, "names") == 0 && ci->many) {
		if (string_list(v, key, false, true, &req->names, &req->nnames, err) < 0)
			return -1;
		for (size_t i = 0; i < req->nnames; i++)
			if (!req->names[i][0])
				return fail(err, xstrdup("\"names\" must be a non-empty "
				                         "array of non-empty strings"));
		return 0;
	}
	for (size_t i = 0; i < ARRAY_LEN(flag_fields); i++) {
		if (strcmp(key, flag_fields[i].key) != 0 ||
		    !(ci->flags & flag_fields[i].flag))
			continue;
		if (!json_is_boolean(v))
			return fail(err, xasprintf("\"%s\" must be true or false", key));
		*flag_of(req, flag_fields[i].flag) = json_is_true(v);
		return 0;
	}
	if (ci->cmd == CTL_STATUS)
		return status_field(key, v, req, err);
	return ci->takes_name == CMD_NAME_OR_EXEC ? exec_field(key, v, req, err) : 1;
}

/* What a request for CI needs beyond its fields one by one. */
static int check_request(const struct cmd_info *ci, const struct ctl_req *req,
                         char **err)
{
	bool zeroconf = req->exec || req->cwd || req->env || req->set;
	if (zeroconf && req->name)
		return fail(err, xstrdup("connect takes a \"name\" or an \"exec\", "
		                         "not both"));
	if (zeroconf && (!req->exec || !req->cwd || !req->env))
		return fail(err, xstrdup("connect with \"exec\" needs \"exec\", "
		                         "\"cwd\" and \"env\" (\"set\" is optional); "
		                         "see docs/protocol.md"));
	if (req->name && req->names)
		return fail(err, xstrdup("a request takes a \"name\" or \"names\", "
		                         "not both"));
	if (cmd_acts_on_unit(ci) && !req->name && !req->names && !zeroconf)
		return fail(err, xasprintf("cmd \"%s\" needs a \"name\"%s", ci->name,
		                           ci->takes_name == CMD_NAME_OR_EXEC
		                           ? " or an \"exec\""
		                           : ci->many ? " or \"names\"" : ""));
	return 0;
}

/* The request O (parsed JSON) into REQ: 0, or -1 with *ERR. */
static int parse_request(json_t *o, struct ctl_req *req, char **err)
{
	if (!json_is_object(o))
		return fail(err, xstrdup("request must be a JSON object like "
		                         "{\"cmd\": \"status\"}"));
	json_t *cmd = json_object_get(o, "cmd");
	if (!json_is_string(cmd))
		return fail(err, xstrdup("request has no \"cmd\" string; see "
		                         "docs/protocol.md"));
	const struct cmd_info *ci = cmd_find(json_string_value(cmd));
	if (!ci)
		return fail(err, xasprintf("unknown cmd \"%s\"; known: %s",
		                           json_string_value(cmd), cmd_known()));
	req->cmd = ci->cmd;
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		int r = strcmp(key, "cmd") == 0 ? 0 : parse_field(ci, key, v, req, err);
		if (r < 0)
			return -1;
		if (r > 0)
			return fail(err, xasprintf("cmd \"%s\" takes no field \"%s\"; "
			                           "see docs/protocol.md", ci->name, key));
	}
	return check_request(ci, req, err);
}

int ctl_parse(const char *line, size_t len, struct ctl_req *req, char **err)
{
	*req = (struct ctl_req){ 0 };
	*err = NULL;
	json_error_t je;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return fail(err, xasprintf("request is not valid JSON: %s (column %d)",
		                           je.text, je.column));
	int r = parse_request(o, req, err);
	json_decref(o);
	if (r < 0)
		ctl_req_free(req);
	return r;
}

void ctl_req_free(struct ctl_req *req)
{
	free(req->name);
	strings_free(req->names);
	strings_free(req->exec);
	strings_free(req->env);
	strings_free(req->set);
	free(req->cwd);
	*req = (struct ctl_req){ 0 };
}

struct ctl_req ctl_req_of_args(const struct cmd_info *ci,
                               const struct cmd_args *args)
{
	struct ctl_req req = { .cmd = ci->cmd, .name = (char *)args->name,
	                       .version = ci->cmd == CTL_STATUS ? 2 : 0 };
	if (ci->many && args->nnames &&
	    (args->nnames > 1 || cmd_is_pattern(args->name))) {
		req.name = NULL;
		req.names = (char **)args->names;
		req.nnames = args->nnames;
	}
	for (size_t i = 0; i < ARRAY_LEN(flag_fields); i++)
		*flag_of(&req, flag_fields[i].flag) = args->flags & flag_fields[i].flag;
	return req;
}


struct zc_request ctl_req_zc(const struct ctl_req *req)
{
	return (struct zc_request){ .argv = req->exec, .cwd = req->cwd,
	                            .env = req->env, .set = req->set,
	                            .nset = req->nset };
}

char *ctl_format(const struct ctl_req *req)
{
	json_t *o = json_pack("{s:s}", "cmd", ctl_cmd_name(req->cmd));
	if (req->name)
		json_object_set_new(o, "name", json_string(req->name));
	if (req->names) {
		json_t *a = json_array();
		for (size_t i = 0; i < req->nnames; i++)
			json_array_append_new(a, json_string(req->names[i]));
		json_object_set_new(o, "names", a);
	}
	if (req->wait)
		json_object_set_new(o, "wait", json_true());
	if (req->join)
		json_object_set_new(o, "join", json_true());
	if (req->force)
		json_object_set_new(o, "force", json_true());
	if (req->version)
		json_object_set_new(o, "version", json_integer(req->version));
	if (req->history)
		json_object_set_new(o, "history", json_true());
	if (req->exec) {
		json_t *a = json_array(), *e = json_array(), *set = json_array();
		for (size_t i = 0; req->exec[i]; i++)
			json_array_append_new(a, json_string(req->exec[i]));
		for (size_t i = 0; req->env && req->env[i]; i++)
			json_array_append_new(e, json_string(req->env[i]));
		for (size_t i = 0; i < req->nset; i++)
			json_array_append_new(set, json_pack("[s, s]", req->set[2 * i],
			                                     req->set[2 * i + 1]));
		json_object_set_new(o, "exec", a);
		json_object_set_new(o, "cwd", json_string(req->cwd));
		json_object_set_new(o, "env", e);
		if (req->nset)
			json_object_set_new(o, "set", set);
		else
			json_decref(set);
	}
	return reply_line(o);
}

