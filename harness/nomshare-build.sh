#!/usr/bin/env bash
# Build mm/, fs/, kernel/, arch/x86/mm/ and arch/x86/entry/ of a
# CONFIG_MSHARE=n kernel in a tree of its own (build/nomshare/linux: the
# same source, patches and overlay as build/linux), so that the hooks are
# seen to compile, without warnings, when the feature is off.  Prints the
# compiler's warning and error lines (none when clean); exits non-zero if
# the build fails.  Incremental, and ccache makes a rebuild cheap.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
NB=$B/nomshare
tree=$NB/linux
cc=gcc
command -v ccache >/dev/null && cc="ccache gcc"
mk() { make -C "$tree" -s -j"${JOBS:-$(nproc)}" CC="$cc" HOSTCC="$cc" "$@"; }

BUILD=$NB "$top/harness/kernel-tree.sh" >/dev/null || exit 1
# The debug kernel's fragments less KASAN (it changes no hook), and mshare off.
frag=$NB/nomshare.config
printf '# CONFIG_MSHARE is not set\n' > "$frag"
frags="$top/configs/base.config $top/configs/debug.config $frag"
stamp=$(cat $frags "$tree/.mshare/unpacked" | sha256sum | cut -c1-16)
if [ ! -f "$tree/.config" ] || [ "$(cat "$tree/.mshare/config" 2>/dev/null)" != "$stamp" ]; then
	mk tinyconfig >/dev/null
	(cd "$tree" && scripts/kconfig/merge_config.sh -m -Q .config $frags >/dev/null)
	mk olddefconfig >/dev/null
	if grep -q '^CONFIG_MSHARE=y' "$tree/.config"; then
		echo "nomshare-build: CONFIG_MSHARE is still set" >&2
		exit 1
	fi
	echo "$stamp" > "$tree/.mshare/config"
fi
mk prepare >/dev/null 2>&1 || { mk prepare; exit 1; }
out=$(mk -k mm/ fs/ kernel/ arch/x86/mm/ arch/x86/entry/ 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E 'warning:|error:' || true
exit $rc
