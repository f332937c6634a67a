#!/usr/bin/env bash
# Configure (tinyconfig + configs/*.config fragments) and build build/linux.
# The config is regenerated only when a fragment changes; every fragment
# option is then checked against the final .config, so a silently dropped
# option (KASAN under SLUB_TINY, say) fails the build instead of hiding.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
tree=$B/linux
frags=${KCONFIG_FRAGMENTS:-$(ls "$top"/configs/*.config | sort)}
jobs=${JOBS:-$(nproc)}
cc=gcc
command -v ccache >/dev/null && cc="ccache gcc"
mk() { make -C "$tree" -s -j"$jobs" CC="$cc" HOSTCC="$cc" "$@"; }

stamp=$(cat $frags "$tree/.mshare/unpacked" | sha256sum | cut -c1-16)
if [ ! -f "$tree/.config" ] || [ "$(cat "$tree/.mshare/config" 2>/dev/null)" != "$stamp" ]; then
	echo "kernel-build: configuring from tinyconfig +" $(for f in $frags; do basename "$f"; done)
	mk tinyconfig >/dev/null
	(cd "$tree" && scripts/kconfig/merge_config.sh -m -Q .config $frags >/dev/null)
	mk olddefconfig >/dev/null
	bad=0
	while read -r line; do
		case "$line" in
		CONFIG_*=*) sym=${line%%=*}; val=${line#*=} ;;
		"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *}; val=n ;;
		*) continue ;;
		esac
		got=$(grep -E "^$sym=|^# $sym is not set" "$tree/.config" || true)
		case "$got" in
		"$sym=$val") ;;
		"# $sym is not set") [ "$val" = n ] || { echo "kernel-build: $sym=$val requested, not set" >&2; bad=1; } ;;
		"") [ "$val" = n ] || { echo "kernel-build: $sym=$val requested, not available" >&2; bad=1; } ;;
		*) echo "kernel-build: $sym=$val requested, got $got" >&2; bad=1 ;;
		esac
	done < <(cat $frags)
	[ $bad = 0 ] || exit 1
	echo "$stamp" > "$tree/.mshare/config"
fi

echo "kernel-build: make bzImage ($jobs jobs, CC=$cc)"
mk bzImage
mk headers_install INSTALL_HDR_PATH="$B/hdr" >/dev/null
cp "$tree/arch/x86/boot/bzImage" "$B/bzImage.new"
mv "$B/bzImage.new" "$B/bzImage"
echo "kernel-build: $(make -C "$tree" -s kernelrelease) -> $B/bzImage"
