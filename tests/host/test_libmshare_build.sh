#!/usr/bin/env bash
# Host-side checks of userspace/libmshare's build: the static and shared
# libraries, the soname and symlinks, that the shared library exports only
# versioned mshare_* symbols (every function of the header), the pkg-config
# file, the public header on its own and with the kernel's uapi headers,
# make install DESTDIR=, make clean, that O= leaves the source tree alone,
# and a program linked with the shared library.  Prints TAP.
#
#   tests/host/test_libmshare_build.sh [HDR]    HDR: kernel uapi headers
#                                               (default build/hdr/include)
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
src=$top/userspace/libmshare
hdr=${1:-${HDR:-$top/build/hdr/include}}
tmp=$(mktemp -d /tmp/libmshare-build.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
n=0
fails=0

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
notok() {
	n=$((n + 1))
	echo "not ok $n - $1"
	shift
	for l in "$@"; do echo "#   $l"; done
	fails=$((fails + 1))
}
# check NAME COMMAND...: ok if the command succeeds, else its output
check() {
	local name=$1 res
	shift
	if res=$("$@" 2>&1); then
		ok "$name"
	else
		notok "$name" "$(printf '%s\n' "$res" | tail -n 15)"
	fi
}

echo "TAP version 13"
echo "1..16"

uapi=()
[ -f "$hdr/linux/mshare.h" ] && uapi=(-isystem "$hdr")
status_before=$(cd "$top" && git status --porcelain --ignored userspace/libmshare 2>/dev/null)

# 1: the build
check "make O=dir builds" make -s -C "$src" O="$out" EXTRA_CFLAGS="${uapi[*]}"

# 2: what is there
want_files=(libmshare.a libmshare.so.1.0.0 libmshare.so.1 libmshare.so libmshare.pc)
missing=()
for f in "${want_files[@]}"; do [ -e "$out/$f" ] || missing+=("$f"); done
if [ ${#missing[@]} = 0 ] && [ "$(readlink "$out/libmshare.so.1")" = libmshare.so.1.0.0 ] &&
   [ "$(readlink "$out/libmshare.so")" = libmshare.so.1 ]; then
	ok "libraries, symlinks and .pc are made"
else
	notok "libraries, symlinks and .pc are made" "missing: ${missing[*]}" \
		"so.1 -> $(readlink "$out/libmshare.so.1"), so -> $(readlink "$out/libmshare.so")"
fi

# 3: soname
soname=$(readelf -d "$out/libmshare.so.1.0.0" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ "$soname" = libmshare.so.1 ]; then ok "soname is libmshare.so.1"; else notok "soname is libmshare.so.1" "got '$soname'"; fi

# 4, 5: exported symbols: only versioned mshare_*, and all of the header's
# defined dynamic symbols: "name version" (the version definition excluded)
objdump -T "$out/libmshare.so.1.0.0" | awk '$2 == "g" && $0 !~ /\*UND\*/ && $NF != $(NF-1) { print $NF, $(NF-1) }' \
	| grep -v '^LIBMSHARE_1.0 LIBMSHARE_1.0$' | sort > "$tmp/exported"
bad=$(grep -v '^mshare_[a-z_]* LIBMSHARE_1\.0$' "$tmp/exported")
if [ -s "$tmp/exported" ] && [ -z "$bad" ]; then
	ok "the .so exports only mshare_* @LIBMSHARE_1.0 ($(wc -l < "$tmp/exported") symbols)"
else
	notok "the .so exports only mshare_* @LIBMSHARE_1.0" "unexpected: $bad"
fi
grep -o '\bmshare_[a-z_]*(' "$src/include/mshare.h" | tr -d '(' | sort -u > "$tmp/declared"
cut -d' ' -f1 "$tmp/exported" | sort -u > "$tmp/exported_names"
if cmp -s "$tmp/declared" "$tmp/exported_names"; then
	ok "every function of mshare.h is exported, nothing else"
else
	notok "every function of mshare.h is exported, nothing else" \
		"$(diff "$tmp/declared" "$tmp/exported_names" | grep '^[<>]' | tr '\n' ' ')"
fi

# 6: the static library defines nothing outside the mshare_ namespace
bad=$(nm -g --defined-only "$out/libmshare.a" 2>/dev/null | awk 'NF == 3 { print $3 }' | grep -v '^mshare_')
if [ -z "$bad" ]; then ok "libmshare.a defines only mshare_* symbols"; else notok "libmshare.a defines only mshare_* symbols" "$bad"; fi

# 7: pkg-config
pc=$(PKG_CONFIG_PATH=$out pkg-config --cflags --libs libmshare 2>&1)
pcver=$(PKG_CONFIG_PATH=$out pkg-config --modversion libmshare 2>&1)
case " $pc " in
*" -lmshare "*) if [ "$pcver" = 1.0.0 ]; then ok "pkg-config: $pc (version $pcver)"; else notok "pkg-config version" "$pcver"; fi ;;
*) notok "pkg-config --cflags --libs libmshare" "$pc" ;;
esac

# 8, 9: the public header alone (C99 pedantic and C++), and with the uapi
# headers in either order (-I, so that redefinitions would warn)
cat > "$tmp/alone.c" <<'EOF'
#include <string.h>
#include <mshare.h>
int main(void)
{
	struct mshare_stats st;
	struct mshare_sysinfo si;

	memset(&st, 0, sizeof(st));
	memset(&si, 0, sizeof(si));
	return (int)(st.size + si.align + (MSHARE_ALIGN >> 30) + MSHARE_CLOEXEC) - 2;
}
EOF
check "mshare.h compiles alone (C99 -pedantic and C++)" sh -c "
	cc -std=c99 -pedantic -Wall -Wextra -Werror -I'$src/include' -c '$tmp/alone.c' -o '$tmp/a.o' &&
	c++ -x c++ -Wall -Wextra -Werror -I'$src/include' -c '$tmp/alone.c' -o '$tmp/b.o'"
if [ ${#uapi[@]} -gt 0 ]; then
	printf '#include <mshare.h>\n#include <linux/mshare.h>\n#include <linux/msharefs.h>\nint x = (int)(MSHARE_ALIGN >> 30);\n' > "$tmp/o1.c"
	printf '#include <linux/mshare.h>\n#include <linux/msharefs.h>\n#include <mshare.h>\nint x = (int)(MSHARE_ALIGN >> 30);\n' > "$tmp/o2.c"
	check "mshare.h and <linux/mshare.h> together, either order" sh -c "
		cc -Wall -Wextra -Werror -I'$src/include' -I'$hdr' -c '$tmp/o1.c' -o '$tmp/o1.o' &&
		cc -Wall -Wextra -Werror -I'$src/include' -I'$hdr' -c '$tmp/o2.c' -o '$tmp/o2.o'"
else
	ok "mshare.h and <linux/mshare.h> together # SKIP no uapi headers at $hdr"
fi

# 10, 11: a program linked with the shared library, through pkg-config
cat > "$tmp/prog.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <mshare.h>
int main(void)
{
	struct mshare_sysinfo si;
	int ret;

	errno = 77;
	ret = mshare_query(&si);
	printf("query=%d syscall=%d mounted=%d align=%llu dir=%s\n", ret,
	       si.syscall, si.mounted, (unsigned long long)si.align, si.dir);
	printf("create=%d\n", mshare_create(MSHARE_ALIGN, 0));
	printf("open=%d\n", mshare_open("x", O_RDONLY));
	printf("alignment=%lld\n", mshare_alignment());
	printf("errno=%d\n", errno);
	return ret;
}
EOF
sed -i '1i #include <fcntl.h>' "$tmp/prog.c"
if res=$(cc -Wall -Wextra -Werror -o "$tmp/prog" "$tmp/prog.c" \
	$(PKG_CONFIG_PATH=$out pkg-config --cflags libmshare) -I"$src/include" \
	-L"$out" -lmshare -Wl,-rpath,"$out" 2>&1) && run=$("$tmp/prog" 2>&1); then
	needed=$(readelf -d "$tmp/prog" | grep -c 'NEEDED.*libmshare.so.1')
	ver=$(objdump -T "$tmp/prog" | grep -Ec 'LIBMSHARE_1\.0\)? +mshare_query$')
	if [ "$needed" = 1 ] && [ "$ver" = 1 ] && printf '%s\n' "$run" | grep -q '^errno=77$'; then
		ok "a program links with -lmshare, binds mshare_query@LIBMSHARE_1.0, errno untouched"
	else
		notok "a program links with -lmshare" "NEEDED=$needed versioned=$ver" "$run"
	fi
else
	notok "a program links with -lmshare" "$res" "${run:-}"
fi
# On a host kernel without mshare (no msharefs in /proc/filesystems) the
# library must say so, even where 463 is another system call (setxattrat()
# from Linux 6.13 on).
if grep -qw msharefs /proc/filesystems 2>/dev/null; then
	ok "no-mshare kernel: -ENOSYS, -ENODEV, syscall=0 # SKIP this host has mshare"
elif printf '%s\n' "${run:-}" | grep -q "^query=0 syscall=0 mounted=0 align=1073741824 dir=/sys/fs/mshare$" &&
     printf '%s\n' "$run" | grep -q "^create=-38$" &&
     printf '%s\n' "$run" | grep -q '^open=-19$' &&
     printf '%s\n' "$run" | grep -q '^alignment=-19$'; then
	ok "no-mshare kernel ($(uname -r)): create -ENOSYS, names -ENODEV, query syscall=0 mounted=0"
else
	notok "no-mshare kernel: -ENOSYS, -ENODEV, syscall=0" "${run:-no output}"
fi

# 12, 13: make install
dest=$tmp/dest
if res=$(make -s -C "$src" O="$out" EXTRA_CFLAGS="${uapi[*]}" PREFIX=/usr install DESTDIR="$dest" 2>&1); then
	ok "make install DESTDIR= PREFIX=/usr"
else
	notok "make install DESTDIR= PREFIX=/usr" "$res"
fi
missing=()
for f in usr/include/mshare.h usr/lib/libmshare.a usr/lib/libmshare.so.1.0.0 \
	 usr/lib/libmshare.so.1 usr/lib/libmshare.so usr/lib/pkgconfig/libmshare.pc \
	 usr/share/man/man3/mshare_create.3 usr/share/man/man3/mshare_recv_fd.3; do
	[ -e "$dest/$f" ] || missing+=("$f")
done
for m in "$src"/man/man*/*.[0-9]; do
	[ -e "$m" ] || continue
	sec=${m##*.}
	[ -e "$dest/usr/share/man/man$sec/$(basename "$m")" ] || missing+=("man$sec/$(basename "$m")")
done
if [ ${#missing[@]} = 0 ] && grep -q '^prefix=/usr$' "$dest/usr/lib/pkgconfig/libmshare.pc" &&
   [ "$(readlink "$dest/usr/lib/libmshare.so")" = libmshare.so.1 ]; then
	ok "installed tree: header, libraries, symlinks, .pc (prefix=/usr), $(find "$dest/usr/share/man" -type f | wc -l) man pages"
else
	notok "installed tree complete" "missing: ${missing[*]}" "$(grep prefix= "$dest/usr/lib/pkgconfig/libmshare.pc" 2>&1)"
fi

# 14: the man pages render without warnings
if command -v groff >/dev/null; then
	bad=
	for m in "$src"/man/man*/*.[0-9]; do
		[ -e "$m" ] || continue
		w=$(cd "$src/man" && groff -man -Tutf8 -ww "${m#"$src"/man/}" 2>&1 >/dev/null)
		[ -n "$w" ] && bad="$bad $(basename "$m"): $w"
	done
	if [ -z "$bad" ]; then ok "man pages render without groff warnings"; else notok "man pages render" "$bad"; fi
else
	ok "man pages render # SKIP no groff"
fi

# 15: make clean
make -s -C "$src" O="$out" clean >/dev/null 2>&1
left=$(cd "$out" && find . -mindepth 1 | sort | tr '\n' ' ')
if [ -z "$left" ]; then ok "make clean removes the outputs"; else notok "make clean removes the outputs" "left: $left"; fi

# 16: the source tree is untouched by builds with O=
status_after=$(cd "$top" && git status --porcelain --ignored userspace/libmshare 2>/dev/null)
if [ "$status_before" = "$status_after" ]; then
	ok "builds with O= leave the source tree alone"
else
	notok "builds with O= leave the source tree alone" "$(diff <(echo "$status_before") <(echo "$status_after") | tr '\n' ' ')"
fi

[ "$fails" = 0 ]
