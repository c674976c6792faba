/* export_int — what the parts of tend export share (export.c): the
 * export in progress, the notes of keys without a counterpart, the files
 * written, the YAML writer of kubernetes and compose, names the engines
 * accept.  export_systemd.c, export_k8s.c and export_compose.c each write
 * one engine's files from the loaded configuration (config.h). */
#ifndef TEND_EXPORT_INT_H
#define TEND_EXPORT_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "util.h"

enum exp_engine { ENGINE_SYSTEMD, ENGINE_KUBERNETES, ENGINE_COMPOSE };

struct exp {
	const struct tend_config *cfg;
	enum exp_engine engine;
	const char *engine_name;
	bool user;                  /* systemd --user units */
	const char *outdir;         /* NULL: stdout */
	const struct unit_config **units;   /* those exported, in file order */
	size_t nunits;
	int nfiles;                 /* written so far */
	int failed;                 /* a file could not be written */
	struct strv notes;          /* the current unit's, "KEY = VALUE: WHY" */
	struct strv gnotes;         /* the [tend] section's, in every file */
};

/* A key without a counterpart in the engine when it is set in the file
 * (its line is not 0): the key and why. */
struct exp_lost {
	const char *key;
	const char *why;
};

/* Clears X's notes for the next unit, then notes every key of TABLE
 * (ended by a NULL key) that U set in the file and that applies to U's
 * kind; with U NULL, the [tend] keys of TABLE the file set (once, first). */
void exp_notes_begin(struct exp *x, const struct unit_config *u,
                     const struct exp_lost *table);
/* A note about U (NULL: the file's [tend] section): KEY (its value as
 * tend check prints it) and why it is not kept; one line on stderr now,
 * a comment in the file later (exp_notes_write). */
void exp_note(struct exp *x, const struct unit_config *u, const char *key,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The notes as comment lines "# ..." (PREFIX before each: "" or "  "),
 * the [tend] section's too with GLOBALS. */
void exp_notes_write(const struct exp *x, FILE *f, const char *prefix,
                     bool globals);

/* U's KEY as tend check prints it (malloc'd; "" when not printed). */
char *exp_value(const struct unit_config *u, const char *key);

/* Opens the file NAME of the export: DIR/NAME with -o DIR, else stdout
 * after a header line that names it (between files).  NULL after an
 * error line (X->failed set). */
FILE *exp_open(struct exp *x, const char *name);
void exp_close(struct exp *x, FILE *f);
/* "# Exported by tend VERSION (tend export ENGINE) from FILE: [KIND NAME]
 * at line N." and the notes: the head of a file of U. */
void exp_head(const struct exp *x, FILE *f, const struct unit_config *u);

/* Is U exported (named on the command line, or all)? */
bool exp_exported(const struct exp *x, const char *name);

/* A name for the engines that take [a-z0-9-] (a DNS label, 63 at most,
 * beginning with a letter): lowercase, other characters as '-'
 * (malloc'd). */
char *exp_dns_name(const char *name);

/* Whole seconds of MS, rounded up, at least 1. */
long long exp_seconds(uint64_t ms);
/* MS as a Go duration that compose takes ("90s", "1500ms", "5m"). */
const char *exp_go_duration(uint64_t ms, char buf[32]);

/* The address of a listen, backend or health: HOST (numeric, brackets
 * for IPv6; localhost as 127.0.0.1) and PORT of a tcp: one, or the path
 * of a unix: one (PORT 0).  Returns 0, -1 when TEXT does not parse. */
int exp_addr(const char *text, char *host, size_t hostsz, unsigned *port,
             char *path, size_t pathsz);

/* V as YAML in block style at indentation IND (objects keep their order;
 * strings are double-quoted). */
void exp_yaml(FILE *f, const json_t *v, int ind);

/* Every $ of the strings in V (and below it) written $$: compose reads
 * $VAR and ${VAR} in every value, Kubernetes $(VAR) in a container's
 * command, args and env, and both read $$ as $.  Returns V. */
json_t *exp_literal(json_t *v);

/* The probe of U's health (NULL when none, or after a note: unparsable). */
struct probe_spec;
bool exp_probe(const struct unit_config *u, struct probe_spec *spec);

int export_systemd(struct exp *x);
int export_kubernetes(struct exp *x);
int export_compose(struct exp *x);

#endif
