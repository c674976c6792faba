/* tend-top — tend top's own program: the live view is the one part of
 * tend that needs a terminal library (ncurses), and only it loads one; the
 * daemon, its keeper and every other command stay free of it (they are
 * all the tend binary).  `tend [-c FILE] top ...` runs this program, which
 * is installed beside tend, as `tend-top [-c FILE] ...` (main.c). */
#include "top.h"
#include "util.h"

#include <string.h>

int main(int argc, char **argv)
{
	if (fd_std_open() < 0)
		return 1;
	const char *cfgarg = NULL;
	int i = 1;
	if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
		cfgarg = argv[i + 1];
		i += 2;
	}
	return top_command(cfgarg, argc - i, argv + i);
}
