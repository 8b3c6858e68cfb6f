#!/usr/bin/env bash
# Builds the Debian package build/coapd_VERSION_ARCH.deb from a build
# directory (BUILD_DIR, default build; configured here if it is not yet):
# /usr/sbin/coapd, /usr/bin/coapctl, the unit in /lib/systemd/system (its
# ExecStart and --config name /usr/sbin/coapd and /etc/coapd/coapd.conf),
# /etc/coapd/coapd.conf as a conffile, the man pages, and a postinst that
# creates the `coapd` system group (the unit runs coapd with that group, so
# the control socket is root:coapd 0660). Installs nothing on this machine.
#   scripts/package.sh            then: lintian build/coapd_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
[[ -f $build/CMakeCache.txt ]] ||
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOAPD_BUILD_TESTS=OFF \
    -DCOAPD_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target coapd coapctl manpages

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
arch=$(dpkg --print-architecture)
deb="$build/coapd_${version}_${arch}.deb"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"

# The install, as `cmake --install --prefix /usr` lays it out (the config
# file in /etc), with the unit moved to where Debian 12 keeps units.
DESTDIR="$root" cmake --install "$build" --prefix /usr --strip >/dev/null
mkdir -p "$root/lib/systemd"
mv "$root/usr/lib/systemd/system" "$root/lib/systemd/system"
rmdir -p --ignore-fail-on-non-empty "$root/usr/lib/systemd"
gzip -9n "$root"/usr/share/man/man*/*
doc="$root/usr/share/doc/coapd"
install -d "$doc"
install -m 0644 packaging/copyright "$doc/copyright"
sed "s/@VERSION@/$version/; s/@DATE@/$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")/" \
  packaging/changelog | gzip -9n >"$doc/changelog.gz"
install -D -m 0644 packaging/bash-completion/coapctl "$root/usr/share/bash-completion/completions/coapctl"
install -D -m 0644 packaging/bash-completion/coapd "$root/usr/share/bash-completion/completions/coapd"

# Control files: the shared libraries' packages from dpkg-shlibdeps.
install -d "$root/DEBIAN" "$work/debian"
printf 'Source: coapd\n\nPackage: coapd\nArchitecture: any\n' >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -e"root/usr/sbin/coapd" -e"root/usr/bin/coapctl" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" -e "s/@SIZE@/$size/" \
  packaging/control >"$root/DEBIAN/control"
echo /etc/coapd/coapd.conf >"$root/DEBIAN/conffiles"
install -m 0755 packaging/postinst "$root/DEBIAN/postinst"
install -m 0755 packaging/postrm "$root/DEBIAN/postrm"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | sort | xargs md5sum) \
  >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control" "$root/DEBIAN/conffiles"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
