#!/usr/bin/env bash
# Fetches Debian's cmocka *source* package into subprojects/cmocka (ignored by
# git) and drops our own meson.build beside it, so the mingw cross build can
# compile cmocka statically: Debian ships no cmocka for mingw, and cmocka's
# code is never committed here.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=subprojects/cmocka
if [ -f "$dest/src/cmocka.c" ]; then
  cp cross/cmocka.meson.build "$dest/meson.build"
  exit 0
fi
# A private deb-src list: the machine's own sources stay untouched.
. /etc/os-release
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
mkdir -p "$state/lists/partial" "$state/archives/partial"
cat > "$state/sources.list" <<LIST
deb-src http://deb.debian.org/debian ${VERSION_CODENAME} main
LIST
apt_opts=(-o "Dir::Etc::SourceList=$state/sources.list" -o "Dir::Etc::SourceParts=-"
          -o "Dir::State::Lists=$state/lists" -o "Dir::Cache::Archives=$state/archives"
          -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update -qq
work=$(mktemp -d)
(cd "$work" && apt-get "${apt_opts[@]}" source -qq cmocka >/dev/null)
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'cmocka-*' | head -n 1)
[ -n "$src" ] || { echo "cmocka source not unpacked" >&2; exit 1; }
mkdir -p subprojects
rm -rf "$dest"
mv "$src" "$dest"
rm -rf "$work"
cp cross/cmocka.meson.build "$dest/meson.build"
echo "cmocka source in $dest"
