#!/bin/sh
# debian/build-deb.sh [-l] OUTDIR [VERSION]
#
# Builds the socks4d package from a copy of this tree (dpkg-buildpackage
# cleans the tree it builds in, and a checkout keeps its build for its
# tests) and leaves the .deb, .buildinfo and .changes in OUTDIR; prints
# the .deb's path on stdout, and on stderr what it built, where, and how
# to install it.  VERSION: a changelog entry of that version is added to
# the copy first (an upgrade to test).  -l: lintian must find no error and
# no warning.
# SPDX-License-Identifier: ISC
set -eu

lint=
if [ "${1:-}" = -l ]; then
	lint=1
	shift
fi
[ $# -ge 1 ] || { echo "usage: $0 [-l] OUTDIR [VERSION]" >&2; exit 2; }
out=$(cd "$1" && pwd)
version=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/socks4d-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"

# What git knows of (committed or not, ignored files left out), else all;
# not the packages an earlier `make deb` left at the top.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$top" ls-files -z --cached --others --exclude-standard |
		(cd "$top" && xargs -0 sh -c 'for f; do
			if [ -e "$f" ]; then printf "%s\n" "$f"; fi
		done' sh) |
		grep -v '^[^/]*\.\(deb\|ddeb\|buildinfo\|changes\)$' |
		tar -C "$top" -cf - --no-recursion -T - |
		tar -C "$work/src" -xf -
else
	tar -C "$top" --exclude=.git --exclude='./*.deb' --exclude='./*.ddeb' \
		--exclude='./*.buildinfo' --exclude='./*.changes' -cf - . |
		tar -C "$work/src" -xf -
fi

cd "$work/src"
if [ -n "$version" ]; then
	maint=$(dpkg-parsechangelog -S Maintainer)
	{
		printf 'socks4d (%s) unstable; urgency=medium\n\n' "$version"
		printf '  * Rebuilt as %s.\n\n' "$version"
		printf ' -- %s  %s\n\n' "$maint" "$(date -R)"
		cat debian/changelog
	} >debian/changelog.new
	mv debian/changelog.new debian/changelog
fi

if ! dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1; then
	tail -n 40 "$work/build.log" >&2
	echo "$0: dpkg-buildpackage failed" >&2
	exit 1
fi
changes=$(ls "$work"/socks4d_*.changes)
linted=
if [ -n "$lint" ]; then
	# Run as root (make deb on CI), lintian says so first: about how it
	# ran, not about the package, so that line alone is left out.
	st=0
	lintian --fail-on error,warning --info "$changes" \
		>"$work/lintian.log" 2>&1 || st=$?
	grep -v 'running with root privileges is not recommended' \
		"$work/lintian.log" >&2 || true
	if [ "$st" != 0 ]; then
		echo "$0: lintian found errors or warnings (above)" >&2
		exit 1
	fi
	linted="; lintian: no error, no warning"
fi
cp "$work"/*.deb "$work"/*.buildinfo "$changes" "$out/"
deb=$(basename "$work"/socks4d_*.deb)
echo "built $deb in $out (with its .buildinfo and .changes)$linted" >&2
echo "install it: apt install $out/$deb" >&2
ls "$out/$deb"
