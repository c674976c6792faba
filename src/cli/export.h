/* export — tend export systemd|kubernetes|compose [NAME ...] [-o DIR]
 * [--user]: what those engines run, written from the same file, loaded
 * by config.h as every command loads it (a file with an error: exit 2,
 * its lines).  Every setting that has a counterpart is kept; a key set in
 * the file that has none is named, one line on stderr and a comment in
 * the output, never dropped silently (docs/beyond-one-machine.md has the
 * table of what becomes what).
 *
 *   systemd     a .service per unit; a .socket per service with listen
 *               (with backend: a NAME-proxy.socket and NAME-proxy.service
 *               of systemd-socket-proxyd); a .timer for every; a .path for
 *               watch.  System units, or --user units.
 *   kubernetes  one manifest: a Deployment per service (a Service per tcp
 *               listen, a ConfigMap of its env-file variables), a Job per
 *               job, a CronJob for one with every.
 *   compose     one compose.yaml.
 *
 * Without -o the files go to stdout, each after a header comment; with -o
 * DIR into DIR (made when missing; files of the same names replaced).
 */
#ifndef TEND_EXPORT_H
#define TEND_EXPORT_H

struct tend_config;

/* tend export ARGV... (what follows `export`): OPEN loads the file of
 * CFGARG (NULL after its error lines).  Returns the exit code: 0, 1 when
 * a file could not be written, 2 for bad usage or configuration. */
int export_command(const char *cfgarg, int argc, char **argv,
                   struct tend_config *(*open)(const char *cfgarg));

#endif
