/* udiff — the unified diff of two texts, line by line, as `diff -u` prints
 * it: "--- A" and "+++ B", then hunks of the changed lines with three lines
 * of context, "\ No newline at end of file" where a text ends without one.
 * Myers' algorithm between the common head and tail; past UDIFF_EDITS_MAX
 * changed lines the middle is given as one replacement (still a correct
 * diff, only longer).  Pure. */
#ifndef TEND_UDIFF_H
#define TEND_UDIFF_H

#include <stddef.h>

#include "util.h"

#define UDIFF_CONTEXT 3
#define UDIFF_EDITS_MAX 1000

/* Appends the diff of A[0..ALEN) and B[0..BLEN) to OUT, labelled LABEL_A
 * and LABEL_B; nothing when the texts are equal.  Returns the number of
 * hunks. */
size_t udiff(const char *a, size_t alen, const char *b, size_t blen,
             const char *label_a, const char *label_b, struct buf *out);

#endif
