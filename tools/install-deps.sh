#!/bin/sh
# install-deps.sh PKG... - apt-get install the Debian packages of the list
# that are not installed yet (nothing when all are). Needs root, as on a
# fresh Debian machine; without root it names what is missing and fails.
set -eu
missing=""
for p in "$@"; do
    case "$p" in
        nodejs|npm) command -v "$p" >/dev/null 2>&1 && continue ;;   # any Node.js/npm will do
        python3) [ -x /usr/bin/python3 ] && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "ganlive: missing Debian packages:$missing (run as root, or apt-get install them)" >&2
    exit 1
fi
echo "ganlive: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
