#!/bin/sh
# clamd in the foreground on /run/clamav/clamd.sock, after freshclam when FRESHCLAM=true.
set -eu
if [ "${FRESHCLAM:-false}" = true ]; then freshclam --foreground --stdout; fi
cat >/tmp/clamd.conf <<CONF
Foreground yes
LocalSocket /run/clamav/clamd.sock
LocalSocketMode 666
DatabaseDirectory /var/lib/clamav
CONF
exec clamd -c /tmp/clamd.conf
