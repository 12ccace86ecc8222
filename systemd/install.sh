#!/bin/sh
# Installs geowatch as a systemd service; safe to run again (upgrades the binary
# and the unit, keeps an existing config).
#
#   systemd/install.sh [--binary FILE] [--no-systemctl]
#   systemd/install.sh --uninstall [--no-systemctl]
#
#   --binary FILE   install FILE instead of building ./cmd/geowatch (needs go and a C compiler)
#   --no-systemctl  don't create the user, run systemd-tmpfiles or talk to systemd
#   --uninstall     stop and disable the service, remove the binary, unit, sysusers.d
#                   and tmpfiles.d files; keep the config, database, logs and user
#
# Environment: PREFIX (default /usr/local) for bin/geowatch; DESTDIR (default
# empty) is prepended to every path, for packaging or tests, and implies
# --no-systemctl. Installed:
#
#   $PREFIX/bin/geowatch                      0755
#   /etc/systemd/system/geowatch.service      0644  ExecStart= points at $PREFIX/bin
#   /etc/sysusers.d/geowatch.conf             0644  the geowatch user and group
#   /etc/tmpfiles.d/geowatch.conf             0644  /var/lib/geowatch and its spool
#   /etc/geowatch/                            0750  root:geowatch
#   /etc/geowatch/geowatch.yaml               0640  root:geowatch, only if absent
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
binary=
systemctl=yes
action=install

while [ $# -gt 0 ]; do
	case $1 in
	--binary)
		[ $# -ge 2 ] || { echo "install.sh: --binary needs a FILE" >&2; exit 2; }
		binary=$2
		shift 2
		;;
	--binary=*) binary=${1#--binary=}; shift ;;
	--no-systemctl) systemctl=no; shift ;;
	--uninstall) action=uninstall; shift ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
[ -z "$DESTDIR" ] || systemctl=no
case $PREFIX in
/*) ;;
*) echo "install.sh: PREFIX must be an absolute path, not $PREFIX" >&2; exit 2 ;;
esac

bin=$DESTDIR$PREFIX/bin/geowatch
unit=$DESTDIR/etc/systemd/system/geowatch.service
sysusers=$DESTDIR/etc/sysusers.d/geowatch.conf
tmpfiles=$DESTDIR/etc/tmpfiles.d/geowatch.conf
confdir=$DESTDIR/etc/geowatch
conf=$confdir/geowatch.yaml

say() { echo "install.sh: $*"; }

if [ "$action" = uninstall ]; then
	if [ "$systemctl" = yes ]; then
		systemctl disable --now geowatch.service 2>/dev/null || true
	fi
	for f in "$unit" "$sysusers" "$tmpfiles" "$bin"; do
		if [ -e "$f" ]; then
			rm -f "$f"
			say "removed $f"
		fi
	done
	if [ "$systemctl" = yes ]; then
		systemctl daemon-reload
	fi
	say "kept $confdir, $DESTDIR/var/lib/geowatch, $DESTDIR/var/log/geowatch and the geowatch user;"
	say "remove them with: rm -r $confdir $DESTDIR/var/lib/geowatch $DESTDIR/var/log/geowatch && userdel geowatch"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ -z "$binary" ]; then
	command -v go >/dev/null 2>&1 || { echo "install.sh: go not found; build elsewhere and pass --binary FILE" >&2; exit 1; }
	say "building $root/cmd/geowatch"
	(cd "$root" && go build -trimpath -o "$tmp/geowatch" ./cmd/geowatch)
	binary=$tmp/geowatch
fi
[ -f "$binary" ] || { echo "install.sh: $binary: no such file" >&2; exit 1; }

# Each file is written beside its target and renamed over it, so a rerun never
# leaves a half-written file and a running daemon keeps its old binary's inode.
put() { # put MODE SRC DEST
	mkdir -p "$(dirname "$3")"
	cp "$2" "$3.new"
	chmod "$1" "$3.new"
	mv -f "$3.new" "$3"
	say "installed $3"
}

put 0755 "$binary" "$bin"
sed "s#/usr/local/bin/geowatch#$PREFIX/bin/geowatch#g" "$here/geowatch.service" >"$tmp/geowatch.service"
put 0644 "$tmp/geowatch.service" "$unit"
put 0644 "$here/geowatch.sysusers" "$sysusers"
put 0644 "$here/geowatch.tmpfiles" "$tmpfiles"

if [ "$systemctl" = yes ]; then
	systemd-sysusers "$sysusers"
	systemd-tmpfiles --create "$tmpfiles"
fi

mkdir -p "$confdir"
chmod 0750 "$confdir"
if [ -e "$conf" ]; then
	say "kept $conf (the new default is $root/configs/geowatch.yaml)"
else
	put 0640 "$root/configs/geowatch.yaml" "$conf"
fi
# The service reads its config as group geowatch; only a live install has that group.
if [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ] && getent group geowatch >/dev/null 2>&1; then
	chgrp geowatch "$confdir" "$conf"
fi

if [ "$systemctl" = yes ]; then
	systemctl daemon-reload
	if systemctl is-active --quiet geowatch.service; then
		say "geowatch is running: systemctl restart geowatch to run the new binary"
	else
		say "next: systemctl enable --now geowatch"
	fi
fi
