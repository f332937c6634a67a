#!/usr/bin/env bash
# Configure (tinyconfig + the flavour's fragments) and build one kernel
# flavour.  The config is regenerated only when a fragment changes; every
# fragment option is then checked against the final .config, so a silently
# dropped option (KASAN under SLUB_TINY, say) fails the build instead of
# hiding.
#
#   kernel-build.sh [FLAVOUR]
#
#   debug  configs/*.config (base, debug, kasan, mshare): KASAN, lockdep,
#          DEBUG_VM, PAGE_TABLE_CHECK.  build/linux -> build/bzImage.
#          make check's tests.
#   prod   configs/prod/*.config (base and mshare, symlinked, and
#          prod.config): a distribution-like kernel, no debugging options.
#          build/linux-prod -> build/bzImage-prod.  make run, make bench,
#          and make check's second boot.
#
# Both install the (identical) uapi headers into build/hdr.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
flavour=${1:-${FLAVOUR:-debug}}
case "$flavour" in
debug) tree=$B/linux image=$B/bzImage
       frags=${KCONFIG_FRAGMENTS:-$(ls "$top"/configs/*.config | sort)} ;;
prod)  tree=$B/linux-prod image=$B/bzImage-prod
       frags=${KCONFIG_FRAGMENTS:-$(ls "$top"/configs/prod/*.config | sort)} ;;
*) echo "kernel-build: unknown flavour '$flavour' (debug or prod)" >&2; exit 2 ;;
esac
jobs=${JOBS:-$(nproc)}
cc=gcc
command -v ccache >/dev/null && cc="ccache gcc"
mk() { make -C "$tree" -s -j"$jobs" CC="$cc" HOSTCC="$cc" "$@"; }

stamp=$(cat $frags "$tree/.mshare/unpacked" | sha256sum | cut -c1-16)
if [ ! -f "$tree/.config" ] || [ "$(cat "$tree/.mshare/config" 2>/dev/null)" != "$stamp" ]; then
	echo "kernel-build ($flavour): configuring from tinyconfig +" $(for f in $frags; do basename "$f"; done)
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

echo "kernel-build ($flavour): make bzImage ($jobs jobs, CC=$cc)"
mk bzImage
mk headers_install INSTALL_HDR_PATH="$B/hdr" >/dev/null
cp "$tree/arch/x86/boot/bzImage" "$image.new"
mv "$image.new" "$image"
echo "kernel-build ($flavour): $(make -C "$tree" -s kernelrelease) -> $image"
