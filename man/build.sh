#!/bin/sh
# man/build.sh PAGE OUT: writes the man page PAGE (tend.1 or tend.ini.5) to
# OUT, made with lowdown(1) from the Markdown documents, never written twice:
#
#   tend(1)      NAME; SYNOPSIS: the block that opens docs/commands.md;
#                DESCRIPTION: README.md's opening paragraphs, then the rest
#                of docs/commands.md; SEE ALSO
#   tend.ini(5)  NAME; DESCRIPTION: docs/config.md; SEE ALSO
#
# The documents' "##" sections become the page's sections (.SH), "###"
# its subsections (.SS).  Links keep their text only (the documents they
# name are in /usr/share/doc/tend, as SEE ALSO says).  The date is
# $SOURCE_DATE_EPOCH's when it is set (reproducible builds), else none.
set -eu
page=$1
out=$2
top=$(cd "$(dirname "$0")/.." && pwd)
version=$(cat "$top/VERSION" 2>/dev/null || echo 0.0.0)
command -v lowdown >/dev/null 2>&1 || {
	echo "man/build.sh: lowdown is not installed (scripts/deps.sh installs it)" >&2
	exit 1
}
date=""
[ -z "${SOURCE_DATE_EPOCH:-}" ] || date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)

see_also() {
	printf '\n# SEE ALSO\n\n%s\n\n' "$1"
	printf 'The whole documentation, of which this page is part, is in\n'
	printf '/usr/share/doc/tend: README.md, and commands.md, config.md,\n'
	printf 'mcp.md, containment.md, protocol.md, security.md and the other\n'
	printf 'documents of docs/ in the source tree.\n'
}

case $page in
tend.1) title=tend section=1 ;;
tend.ini.5) title=tend.ini section=5 ;;
*)
	echo "usage: man/build.sh tend.1|tend.ini.5 OUT" >&2
	exit 2 ;;
esac

case $page in
tend.1)
	{
		printf '# NAME\n\ntend - a process supervisor for the helpers developers run on their own machines\n\n'
		printf '# SYNOPSIS\n\n'
		# the opening block of commands.md
		awk 'NR > 1 && /^```/ { print; n++; if (n == 2) exit; next } n == 1 || /^```/ { print }' \
			"$top/docs/commands.md"
		printf '\n# DESCRIPTION\n\n'
		# README.md: what comes before its first section
		awk 'NR > 1 && /^## / { exit } NR > 1 { print }' "$top/README.md"
		# commands.md after its opening block
		awk '/^```/ && n < 2 { n++; next } n >= 2 { print }' "$top/docs/commands.md"
		see_also 'tend.ini(5), systemctl(1), systemd.unit(5)'
	} ;;
tend.ini.5)
	{
		printf '# NAME\n\ntend.ini - the configuration file of tend, a process supervisor\n\n'
		printf '# DESCRIPTION\n\n'
		awk 'NR > 1 { print }' "$top/docs/config.md"
		see_also 'tend(1)'
	} ;;
esac | lowdown -s -Tman --nroff-nolinks \
	-M "title=$title" -M "section=$section" -M "date=$date" \
	-M "source=tend $version" -M "shiftheadinglevelby=-1" -o "$out.tmp" -
mv "$out.tmp" "$out"
