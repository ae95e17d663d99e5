#!/usr/bin/env bash
# Debian packages shardgate's tests, demo and benchmark need: the one list, used by
# .ci/run and the Makefile.
#
#   scripts/deps.sh list                 print the packages (one a line)
#   scripts/deps.sh missing [PKG...]     print those not installed (default: all of them)
#   scripts/deps.sh install [PKG...]     apt-get install the missing ones (as root; otherwise
#                                        print what to run and exit 1)
#   scripts/deps.sh ensure [PKG...]      as root: install; otherwise only warn about the
#                                        missing ones (exit 0)
#   scripts/deps.sh check [PKG...]       exit 1 with a message if any is missing
#
# Set DEPS_APT_UPDATE=0 to skip "apt-get update" before installing (.ci/run has just run it).
set -euo pipefail

# mariadb-server   mariadbd + mariadb-install-db: tests, demo and bench start their own servers
# mariadb-client   the mariadb CLI (client-compatibility tests, connecting to the demo)
# sysbench         client-compatibility tests and make bench
# default-jdk-headless libmariadb-java   Connector/J tests
# python3-pymysql  PyMySQL tests
# chromium         tests/console drives the operator console in headless Chromium (chromedp)
# prometheus       promtool: configs/prometheus-alerts.yml is checked and unit-tested (tests/ops)
DEPS=(mariadb-server mariadb-client sysbench default-jdk-headless libmariadb-java python3-pymysql chromium prometheus)

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing() {
	local p
	for p in "$@"; do
		installed "$p" || echo "$p"
	done
}

cmd=${1:-list}
shift || true
if [ $# -eq 0 ]; then
	set -- "${DEPS[@]}"
fi

case "$cmd" in
list)
	printf '%s\n' "${DEPS[@]}"
	;;
missing)
	missing "$@"
	;;
check)
	mapfile -t need < <(missing "$@")
	if [ ${#need[@]} -gt 0 ]; then
		echo "missing Debian packages: ${need[*]}" >&2
		echo "install them with: sudo apt-get install -y ${need[*]}" >&2
		exit 1
	fi
	;;
ensure)
	mapfile -t need < <(missing "$@")
	if [ ${#need[@]} -eq 0 ]; then
		exit 0
	fi
	if [ "$(id -u)" -eq 0 ]; then
		exec "$0" install "${need[@]}"
	fi
	echo "warning: missing Debian packages: ${need[*]} (what needs them will fail)" >&2
	echo "install them with: sudo apt-get install -y ${need[*]}" >&2
	;;
install)
	if ! command -v dpkg-query >/dev/null; then
		echo "deps.sh: not a Debian system (no dpkg-query); install by hand: $*" >&2
		exit 1
	fi
	mapfile -t need < <(missing "$@")
	if [ ${#need[@]} -eq 0 ]; then
		exit 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing Debian packages: ${need[*]}" >&2
		echo "run as root, or: sudo apt-get install -y ${need[*]}" >&2
		exit 1
	fi
	echo "installing missing Debian packages: ${need[*]}"
	if [ "${DEPS_APT_UPDATE:-1}" != 0 ]; then
		apt-get update
	fi
	# policy-rc.d keeps apt from starting the system mariadb service: shardgate's tests,
	# demo and bench start their own mariadbd servers and need none running on 3306.
	rcd=/usr/sbin/policy-rc.d
	ours=0
	if [ ! -e "$rcd" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$rcd"
		chmod 755 "$rcd"
		ours=1
	fi
	status=0
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" || status=$?
	if [ "$ours" = 1 ]; then
		rm -f "$rcd"
	fi
	exit $status
	;;
*)
	echo "usage: $0 list|missing|check|ensure|install [PKG...]" >&2
	exit 2
	;;
esac
