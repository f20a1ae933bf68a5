#!/bin/sh
# What `npm test` (set "test") and `npm run interop` (set "interop") need
# from the machine, checked before they start: the programs the tests run
# and the real servers they start. When something is missing and we are root
# with apt-get, the Debian packages are installed (one apt-get update, then
# one noninteractive install that removes nothing); otherwise we stop at once
# with one line naming the packages to install. For "test" it then makes sure Node 26 (for the
# groups test) is in the cache, through scripts/node26.sh.
#
# Usage: sh scripts/test-prereqs.sh test|interop
set -eu

set_name=${1:?usage: test-prereqs.sh test|interop}
here=$(dirname "$0")

# One row per thing to check: the sets that need it, how to check it, and
# the Debian package that provides it. How to check: cmd:NAME (on PATH, as
# the tests spawn it by name), file:PATTERN (an executable file; a glob is
# fine), py:MODULE (importable by /usr/bin/python3). New servers: add a row.
TABLE='
test,interop  cmd:openssl                              openssl
test,interop  cmd:python3                              python3
test          file:/usr/bin/python3                    python3
test          cmd:tcpclient                            ucspi-tcp
test          cmd:script                               bsdutils
test          file:/usr/bin/busybox                    busybox
test          file:/usr/bin/time                       time
test          file:/usr/bin/setpriv                    util-linux
test          cmd:mkfifo                               coreutils
test          cmd:man                                  man-db
test          cmd:dovecot                              dovecot-imapd
test          file:/usr/lib/dovecot/pop3               dovecot-pop3d
test          cmd:vsftpd                               vsftpd
test          cmd:prosody                              prosody
test          file:/usr/lib/postgresql/*/bin/postgres  postgresql
test          py:aiosmtpd                              python3-aiosmtpd
test          cmd:exim4                                exim4-daemon-light
test          cmd:pgbouncer                            pgbouncer
test          cmd:ps                                   procps
test          cmd:s6-supervise                         s6
test          cmd:s6-accessrules-cdb-from-fs           s6
interop       cmd:nginx                                nginx-light
test,interop  cmd:haproxy                              haproxy
interop       cmd:stunnel4                             stunnel4
interop       cmd:gnutls-serv                          gnutls-bin
interop       cmd:socat                                socat
interop       cmd:tcpserver                            ucspi-tcp
interop       cmd:curl                                 curl
interop       cmd:gnutls-cli                           gnutls-bin
interop       cmd:swaks                                swaks
'

present() {
  case $1 in
    cmd:*) command -v "${1#cmd:}" >/dev/null 2>&1 ;;
    file:*)
      for f in ${1#file:}; do [ -x "$f" ] && return 0; done
      return 1 ;;
    py:*) [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import ${1#py:}" >/dev/null 2>&1 ;;
    *) echo "test-prereqs.sh: fatal: unknown check $1" >&2; exit 1 ;;
  esac
}

# The Debian packages whose check fails, each named once.
missing() {
  printf '%s\n' "$TABLE" | while read -r sets check package; do
    [ -n "$sets" ] || continue
    case ",$sets," in *",$set_name,"*) ;; *) continue ;; esac
    present "$check" || echo "$package"
  done | sort -u | tr '\n' ' ' | sed 's/ $//'
}

packages=$(missing)
if [ -n "$packages" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-prereqs.sh: installing from Debian what npm $set_name needs: $packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # --no-remove: never take away a package the machine has (one that
    # conflicts, such as another FTP server) to make room for ours.
    # shellcheck disable=SC2086 # one word per package
    apt-get install -y -qq --no-remove $packages >&2 ||
      { echo "test-prereqs.sh: fatal: apt-get could not install $packages without removing other packages (see above)" >&2; exit 1; }
    packages=$(missing)
    [ -z "$packages" ] || { echo "test-prereqs.sh: fatal: still missing after apt-get install: $packages" >&2; exit 1; }
  else
    echo "test-prereqs.sh: fatal: npm $set_name needs these Debian packages (as root: apt-get install $packages), or run it as root to have them installed" >&2
    exit 1
  fi
fi

if [ "$set_name" = test ]; then sh "$here/node26.sh" >/dev/null; fi
