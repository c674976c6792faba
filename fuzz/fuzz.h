/* fuzz.h — what every harness of fuzz/ shares.  A harness is one libFuzzer
 * target: LLVMFuzzerTestOneInput gets bytes, hands them to one of tend's
 * parsers, and checks what must hold for any input (tests/oracle.h).  A
 * broken property aborts, so that libFuzzer reports it and keeps the input,
 * like a crash or a sanitizer error.  docs/fuzzing.md says how to run them. */
#ifndef TEND_FUZZ_H
#define TEND_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with WHY (malloc'd, from an oracle) unless it is NULL. */
static inline void fuzz_check(char *why, const char *what)
{
	if (!why)
		return;
	fprintf(stderr, "fuzz: %s: %s\n", what, why);
	free(why);
	abort();
}

/* Aborts with a message when COND does not hold. */
#define FUZZ_ASSERT(cond, ...)                                          \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, \
			        __LINE__, #cond);                       \
			fprintf(stderr, __VA_ARGS__);                  \
			fputc('\n', stderr);                            \
			abort();                                        \
		}                                                       \
	} while (0)

/* DATA as a malloc'd C string (bytes after a NUL byte are cut off, as a
 * reader of C strings would see them). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

#endif
