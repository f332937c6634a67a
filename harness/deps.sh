#!/usr/bin/env bash
# Install, on Debian 12 as root, every package the build and the tests need.
# Does nothing when they are all there already.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
want=$(cat "$top/KERNEL_VERSION")
pkgs="build-essential bc flex bison libelf-dev libssl-dev cpio xz-utils kmod
      python3 qemu-system-x86 busybox-static liburing-dev ccache rsync
      pkg-config groff-base gcc-multilib sparse trinity libcap-dev gnuplot-nox
      postgresql postgresql-contrib"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
have=$(dpkg-query -W -f='${Status} ${Version}' linux-source-6.12 2>/dev/null || true)
case "$have" in
"install ok installed $want") src= ;;
"install ok installed "*) src=keep ;;
*) src=install ;;
esac
[ -z "$missing" ] && [ -z "$src" ] && exit 0
[ -z "$missing" ] && [ "$src" = keep ] && exit 0

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing:$missing ${src:+linux-source-6.12}"
$SUDO apt-get update -qq
if [ -n "$missing" ]; then
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ "$src" = install ]; then
	if ! $SUDO apt-get install -y -qq --no-install-recommends "linux-source-6.12=$want" >/dev/null 2>&1; then
		echo "deps: NOTE: linux-source-6.12 $want is no longer available;" \
		     "installing the newest 6.12.y instead" >&2
		$SUDO apt-get install -y -qq --no-install-recommends linux-source-6.12 >/dev/null
	fi
fi
echo "deps: linux-source-6.12 $(dpkg-query -W -f='${Version}' linux-source-6.12)"
