#!/bin/sh
# Installs the Debian packages tend needs to build and test, only those
# missing, without questions.  Safe to run again: it does nothing when all
# are present.
#   scripts/deps.sh          what the build and the tests need
#                            (libmicrohttpd's headers for listen = http:,
#                            whose library tend loads at run time; ncurses
#                            for tend top, and tmux, the terminal its
#                            tests run it in; clang's
#                            libFuzzer runtime for fuzz/; node and npm
#                            for tests/mcp: Debian's nodejs and npm, only when
#                            there is no node or npm command, wherever from;
#                            libfaketime: the clock jump test preloads it
#                            into one daemon; lowdown: the man pages of
#                            make install; for tests/e2e/test_install.py:
#                            systemd's systemd-analyze, which verifies the
#                            unit of tend enable, desktop-file-utils, which
#                            validates its autostart entry, zsh and fish,
#                            which run the completions; python3-yaml, with
#                            which tests/e2e/test_export.py reads back the
#                            YAML of tend export)
#   scripts/deps.sh bench    that, plus what the benchmarks need (socat)
#   scripts/deps.sh peers    that, plus the supervisors bench/compare.py
#                            compares tend with (s6, runit, supervisor) and
#                            gnuplot for its plots.  `runit` alone, never
#                            `runit-init` (no recommends); nothing is
#                            started from them: the bench runs its own
#                            private instances (where a package's install
#                            starts a system supervisord, the bench neither
#                            uses nor stops it).  PM2 comes from npm, pinned
#                            in bench/npm (`make bench`).
#   scripts/deps.sh lint     what `make lint` needs (cppcheck, clang-tidy)
#   scripts/deps.sh deb      that, plus what `make deb` needs (dpkg-dev,
#                            debhelper, lintian)
set -eu
PKGS="gcc make clang pkg-config libjansson-dev libmicrohttpd-dev libncurses-dev libcmocka-dev python3 python3-pytest procps libfaketime lowdown systemd desktop-file-utils zsh fish tmux python3-yaml"
case "${1:-}" in
"") ;;
bench) PKGS="$PKGS socat" ;;
peers) PKGS="$PKGS socat s6 runit supervisor gnuplot-nox" ;;
lint) PKGS="make libjansson-dev libmicrohttpd-dev cppcheck clang-tidy" ;;
deb) PKGS="$PKGS dpkg-dev debhelper lintian" ;;
*) echo "usage: scripts/deps.sh [bench|peers|lint|deb]" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ "${1:-}" != lint ]; then
	command -v node >/dev/null 2>&1 || missing="$missing nodejs"
	command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
SUDO=""
updated=""
install() {
	echo "deps: installing$1"
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
			echo "deps: need root to run: apt-get install$1" >&2; exit 1
		fi
	fi
	export DEBIAN_FRONTEND=noninteractive
	[ -n "$updated" ] || $SUDO apt-get update -qq
	updated=1
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $1
}
[ -z "$missing" ] || install "$missing"
[ "${1:-}" = lint ] && exit 0
# clang's runtime of libFuzzer and the sanitizers (fuzz/, make check-fuzz):
# libclang-rt-N-dev for clang N, which clang only recommends.
major=$(clang -dumpversion | cut -d. -f1)
rt="libclang-rt-$major-dev"
dpkg-query -W -f='${Status}' "$rt" 2>/dev/null | grep -q "ok installed" ||
	install " $rt"
exit 0
