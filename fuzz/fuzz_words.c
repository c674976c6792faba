/* The exec word splitter (src/base/words.c): any line splits or fails with a
 * one-line reason; what words_join makes of the words splits back to the
 * same words; words_one agrees. */
#include "fuzz.h"
#include "words.h"

static const char *lookup(void *ctx, const char *name)
{
	(void)ctx;
	if (!strcmp(name, "HOME"))
		return "/home/fuzz";
	if (!strcmp(name, "SPACE"))
		return "a b  'c\"";
	if (!strcmp(name, "EMPTY"))
		return "";
	if (!strcmp(name, "X"))
		return "$X ${X} ~";
	return NULL;
}

static const char *lookup_none(void *ctx, const char *name)
{
	(void)ctx, (void)name;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_cstr(data, size);
	struct words_env env = { lookup, NULL, "/home/fuzz" };
	char **argv = NULL, *err = NULL;
	size_t argc = 0;
	if (words_split(line, &env, &argv, &argc, &err) < 0) {
		FUZZ_ASSERT(err && !argv, "an error without a message");
		fuzz_check(oracle_message(err, line, strlen(line)), "words error");
		free(err);
	} else {
		FUZZ_ASSERT(argv && !argv[argc], "argv not NULL-terminated");
		for (size_t i = 0; i < argc; i++)
			FUZZ_ASSERT(argv[i], "word %zu is NULL", i);
		char *joined = words_join(argv);
		/* no expansion on the way back: join quotes $ and ~ */
		struct words_env none = { lookup_none, NULL, "/nowhere" };
		char **back = NULL;
		size_t nback = 0;
		FUZZ_ASSERT(words_split(joined, &none, &back, &nback, &err) == 0,
		            "\"%s\" does not split back: %s", joined, err);
		FUZZ_ASSERT(nback == argc, "%zu words, %zu after join \"%s\"",
		            argc, nback, joined);
		for (size_t i = 0; i < argc; i++)
			FUZZ_ASSERT(!strcmp(argv[i], back[i]),
			            "word %zu \"%s\" came back \"%s\"", i, argv[i],
			            back[i]);
		words_free(back);
		free(joined);
		/* words_one: exactly one word, the same */
		char *one = NULL;
		if (words_one(line, &env, &one, &err) == 0) {
			FUZZ_ASSERT(argc == 1 && !strcmp(one, argv[0]),
			            "words_one \"%s\" vs %zu words", one, argc);
			free(one);
		} else {
			FUZZ_ASSERT(argc != 1, "words_one refuses one word: %s", err);
			fuzz_check(oracle_message(err, line, strlen(line)), "words_one error");
			free(err);
		}
		words_free(argv);
	}
	free(line);
	return 0;
}
