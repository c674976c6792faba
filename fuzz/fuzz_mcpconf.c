/* tend mcp import (src/cli/mcpconf.c, src/cli/mcptoml.c, src/cli/udiff.c) on any
 * client configuration file: as JSON, in every layout (.mcp.json, Cursor
 * and Gemini CLI; ~/.claude.json with its projects; VS Code), import and
 * unimport never crash; import's text is JSON that reads back as the same
 * document; import then unimport gives back an equal document (json_equal;
 * what unimport gives of the original when some entry was through tend
 * already); the diff of the file and the new text applies.  As Codex's
 * TOML: an error is one line, the tables given are through tend and
 * unimport back to what ran before.  The properties are oracle_mcpconf's
 * (tests/oracle.c), shared with tests/unit/test_mcpconf.c. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	/* the whole input, NUL bytes included: files are read as bytes */
	fuzz_check(oracle_mcpconf(text, size), "mcpconf");
	free(text);
	return 0;
}
