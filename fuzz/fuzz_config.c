/* tend.ini through the whole of config_load (src/base/config.c: the INI reader,
 * every key's value syntax, the cross-key checks) and back through what
 * `tend check` prints: each error is one line naming the file; a file that
 * loads prints settings that load again, to the very same settings. */
#include <fcntl.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static char path[4096];

static void write_file(const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_ASSERT(fd >= 0, "open %s", path);
	FUZZ_ASSERT(write(fd, text, len) == (ssize_t)len, "write %s", path);
	close(fd);
}

static char *print(const struct tend_config *cfg)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	FUZZ_ASSERT(f, "open_memstream");
	config_print(cfg, f);
	FUZZ_ASSERT(fclose(f) == 0, "fclose");
	return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	char dir[64];
	snprintf(dir, sizeof(dir), "%s/tend-fuzz-XXXXXX", base);
	FUZZ_ASSERT(mkdtemp(dir), "mkdtemp %s", dir);
	snprintf(path, sizeof(path), "%s/tend.ini", dir);
	/* ${VAR} in values reads the environment: the same for every run */
	setenv("HOME", dir, 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	write_file((const char *)data, size);
	char *err = NULL;
	struct tend_config *cfg = config_load(path, &err);
	if (!cfg) {
		FUZZ_ASSERT(err, "no config and no error");
		/* every error of the file, a line each, at most the bound and a
		 * line that counts the rest */
		size_t lines = 0;
		for (char *l = err, *nl; l; l = nl) {
			nl = strchr(l, '\n');
			if (nl)
				*nl++ = '\0';
			lines++;
			FUZZ_ASSERT(strncmp(l, path, strlen(path)) == 0,
			            "\"%s\" does not name the file", l);
			fuzz_check(oracle_message(l, "", 0), "config error");
		}
		FUZZ_ASSERT(lines <= CONFIG_MAX_ERRORS + 1, "%zu lines", lines);
		free(err);
		return 0;
	}
	char *once = print(cfg);
	write_file(once, strlen(once));
	struct tend_config *again = config_load(path, &err);
	FUZZ_ASSERT(again, "what tend check printed does not load: %s\n%s", err, once);
	FUZZ_ASSERT(again->nunits == cfg->nunits, "%zu units, then %zu",
	            cfg->nunits, again->nunits);
	for (size_t i = 0; i < cfg->nunits; i++)
		FUZZ_ASSERT(config_unit_equal(cfg->units[i], again->units[i]),
		            "unit %s changed on the way back", cfg->units[i]->name);
	char *twice = print(again);
	FUZZ_ASSERT(strcmp(once, twice) == 0, "printed twice, differs:\n%s\n--\n%s",
	            once, twice);
	free(twice);
	free(once);
	config_free(again);
	config_free(cfg);
	return 0;
}
