/* top — tend top: a live view of the daemon's units on a terminal, with
 * ncurses (a well-kept library, in every distribution, that knows every
 * terminal's codes, resizes and keys: the view draws rows, ncurses sends
 * only what changed).
 *
 * Once a second it asks for status (version 2, with history: the daemon
 * then samples every unit that is up each memory-interval for a minute,
 * status.h) on one connection it keeps, and shows each unit's state,
 * uptime, restarts, CPU (the difference of two samples of its tree's
 * cpu_ticks over the time between them), memory with a sparkline of its
 * mem_history, and clients.  Keys act on the selected unit: s start (a
 * job: run), x stop, r restart, l (or Enter) tend logs -f NAME in the same
 * terminal until Ctrl-C, then back; q quits.  Each action goes on a
 * connection of its own, so that a stop that takes its stop-timeout does
 * not hold the view; its answer shows on the message line.  A resize
 * (SIGWINCH, ncurses' KEY_RESIZE) draws again at the new size: columns go
 * when they do not fit (CLIENTS, RESTARTS, PID, UPTIME, then the
 * sparkline), names are cut with an ellipsis.  Colour only with a
 * terminal that has it and NO_COLOR unset; without colour no attribute at
 * all (the selected row is marked ">" either way).
 */
#ifndef TEND_TOP_H
#define TEND_TOP_H

/* tend [-c FILE] top: exit 0 on q; 2 without a terminal or for a bad
 * argument; 3 when the daemon cannot be reached (or goes away). */
int top_command(const char *cfgarg, int argc, char **argv);

#endif
