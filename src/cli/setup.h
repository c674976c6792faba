/* setup — making tend part of the user's day: `tend init` writes a
 * commented starter tend.ini; `tend enable [--now]` has the user's
 * default daemon started at login, `tend disable [--now]` undoes it.
 *
 * The default daemon is the one of the user's own file
 * ($XDG_CONFIG_HOME/tend/tend.ini, else ~/.config/tend/tend.ini; paths.h).
 * Where systemd is PID 1 (/run/systemd/system exists, as sd_booted(3)
 * checks) enable writes a systemd --user unit,
 * $XDG_CONFIG_HOME/systemd/user/tend.service, running `tend -c FILE up` in
 * the foreground, and links it into default.target.wants as `systemctl
 * enable` does; elsewhere an XDG autostart entry,
 * $XDG_CONFIG_HOME/autostart/tend.desktop, running `tend -c FILE up -d`
 * when the desktop session starts.  Every file written says so in its
 * first lines, and disable removes only such files.
 */
#ifndef TEND_SETUP_H
#define TEND_SETUP_H

/* tend [-c FILE] init */
int setup_init(const char *cfgarg, int argc, char **argv);
/* tend enable [--now] [--systemd | --autostart] */
int setup_enable(const char *cfgarg, int argc, char **argv);
/* tend disable [--now] */
int setup_disable(const char *cfgarg, int argc, char **argv);

#endif
