#!/bin/sh
# rm-unowned.sh FILE...: make uninstall's rm -f, but for a file that a
# package owns, which is kept and named: `make install` and a package may
# have written the same path, and the package's file must outlive
# `make uninstall` (dpkg --verify would miss it).  A file is the package's
# when dpkg-query -S names it, by its path or by where its links lead
# (/lib is /usr/lib on a merged-/usr system).  DPKG_QUERY: the command to
# ask instead of dpkg-query; where there is none, no file is owned.
# SPDX-License-Identifier: ISC
set -u

query=${DPKG_QUERY:-dpkg-query}
command -v "$query" >/dev/null 2>&1 || query=

for f; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	owner=
	if [ -n "$query" ]; then
		# (absolute: dpkg-query takes a relative path as a pattern)
		case $f in /*) abs=$f ;; *) abs=$PWD/$f ;; esac
		real=$(readlink -f -- "$f") || real=$abs
		owner=$("$query" -S "$abs" 2>/dev/null ||
			"$query" -S "$real" 2>/dev/null) || owner=
	fi
	if [ -n "$owner" ]; then
		echo "kept $f: the package ${owner%%:*} owns it"
	else
		echo "rm -f $f"
		rm -f -- "$f" || exit 1
	fi
done
