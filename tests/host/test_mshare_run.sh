#!/usr/bin/env bash
# Host-side checks of userspace/mshare-run: the build (launcher and
# preload library), what the library exports and needs, make install
# DESTDIR= and where the installed launcher finds its library, make clean,
# the exit statuses, --help against the man page, and, on this host's
# kernel without mshare, that nothing changes: mshare-run runs the program
# without the library, and the library preloaded by hand passes every call
# through (a probe's shared memory, System V and fork behave exactly as
# without it).  Prints TAP.
#
#   tests/host/test_mshare_run.sh [HDR]    HDR: kernel uapi headers
#                                          (default build/hdr/include)
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
src=$top/userspace/mshare-run
hdr=${1:-${HDR:-$top/build/hdr/include}}
[ -f "$hdr/linux/mshare.h" ] || hdr=$top/include/uapi
tmp=$(mktemp -d /tmp/mshare-run-host.XXXXXX)
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
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
	fails=$((fails + 1))
}
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
echo "1..18"
status_before=$(cd "$top" && git status --porcelain --ignored userspace/mshare-run 2>/dev/null)

# 1: libmshare, then mshare-run with O=
check "make O=dir builds mshare-run and libmshare-run.so" sh -c "
	make -s -C '$top/userspace/libmshare' O='$tmp/lib' EXTRA_CFLAGS='-isystem $hdr' &&
	make -s -C '$src' O='$out' LIBMSHARE='$tmp/lib/libmshare.a' EXTRA_CFLAGS='-isystem $hdr' &&
	test -x '$out/mshare-run' && test -f '$out/libmshare-run.so'"
R=$out/mshare-run
L=$out/libmshare-run.so

# 2: exports: the calls it takes over, nothing else (no mshare_*)
exp=$(objdump -T "$L" 2>/dev/null | awk '$2 == "g" && $0 !~ /\*UND\*/ { print $NF }' | sort | tr '\n' ' ')
if [ "$exp" = "mmap mmap64 munmap shmat shmctl shmdt shmget " ]; then
	ok "libmshare-run.so exports only mmap, mmap64, munmap, shmget, shmat, shmdt, shmctl"
else
	notok "libmshare-run.so exports only its hooks" "exports: $exp"
fi

# 3: it needs libc and nothing else
needed=$(readelf -d "$L" 2>/dev/null | sed -n 's/.*NEEDED.*\[\(.*\)\].*/\1/p' | tr '\n' ' ')
if [ "$needed" = "libc.so.6 " ]; then ok "libmshare-run.so needs only libc.so.6"; else notok "libmshare-run.so needs only libc" "NEEDED: $needed"; fi

# 4: the option unit tests
check "option parsing unit tests (make check)" \
	make -s -C "$src" O="$out" LIBMSHARE="$tmp/lib/libmshare.a" EXTRA_CFLAGS="-isystem $hdr" check

# 5, 6: make install, and the installed launcher finds the installed library
dest=$tmp/dest
check "make install DESTDIR= PREFIX=/usr" \
	make -s -C "$src" O="$out" LIBMSHARE="$tmp/lib/libmshare.a" EXTRA_CFLAGS="-isystem $hdr" \
	PREFIX=/usr DESTDIR="$dest" install
missing=
for f in usr/bin/mshare-run usr/lib/mshare/libmshare-run.so usr/share/man/man1/mshare-run.1; do
	[ -e "$dest/$f" ] || missing="$missing $f"
done
dry=$("$dest/usr/bin/mshare-run" --dry-run -- prog 2>&1)
if [ -z "$missing" ] && printf '%s\n' "$dry" | grep -qx "LD_PRELOAD=$dest/usr/lib/mshare/libmshare-run.so" &&
   grep -q '/usr/lib/mshare' "$dest/usr/bin/mshare-run"; then
	ok "installed: bin/mshare-run, lib/mshare/libmshare-run.so (found from bin/../lib/mshare; /usr/lib/mshare built in), man1/mshare-run.1"
else
	notok "installed tree" "missing:$missing" "$dry"
fi

# 7: exit statuses
"$R" --bogus true > /dev/null 2>&1; a=$?
"$R" -- /nonexistent/prog > /dev/null 2>&1; b=$?
echo data > "$tmp/noexec" && chmod 644 "$tmp/noexec"
"$R" -- "$tmp/noexec" > /dev/null 2>&1; c=$?
"$R" -- sh -c 'exit 9' > /dev/null 2>&1; d=$?
"$R" --library /nonexistent.so -- true > /dev/null 2>&1; e=$?
"$R" > /dev/null 2>&1; f=$?
if [ "$a$b$c$d$e$f" = "1251271269125125" ]; then
	ok "exit status: 125 usage, 127 not found, 126 not runnable, the program's own, 125 no library"
else
	notok "exit statuses" "bad option $a, not found $b, not runnable $c, exit 9 gave $d, no library $e, no program $f"
fi

# 8: every long option of --help is in the man page, and the other way round
help_opts=$("$R" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u)
man_opts=$(sed 's/\\-/-/g' "$src/mshare-run.1" | grep -oE -- '--[a-z][a-z-]+' | sort -u)
d1=$(comm -23 <(echo "$help_opts") <(echo "$man_opts") | tr '\n' ' ')
d2=$(comm -13 <(echo "$help_opts") <(echo "$man_opts") | tr '\n' ' ')
if [ -z "$d1$d2" ]; then
	ok "--help and mshare-run(1) list the same options ($(echo $help_opts | wc -w))"
else
	notok "--help and the man page list the same options" "only in --help: $d1" "only in the man page: $d2"
fi

# 9: --dry-run shows the environment; a LD_PRELOAD already set comes after ours
dry=$(LD_PRELOAD=/lib/other.so "$R" --dry-run -s 1G -n db -m 640 -v --no-sysv -- prog a b 2>&1)
if printf '%s\n' "$dry" | grep -qx "LD_PRELOAD=$L /lib/other.so" &&
   printf '%s\n' "$dry" | grep -qx 'MSHARE_RUN_MIN_SIZE=1073741824' &&
   printf '%s\n' "$dry" | grep -qx 'MSHARE_RUN_NAME=db' &&
   printf '%s\n' "$dry" | grep -qx 'MSHARE_RUN_MODE=0640' &&
   printf '%s\n' "$dry" | grep -qx 'MSHARE_RUN_VERBOSE=1' &&
   printf '%s\n' "$dry" | grep -qx 'MSHARE_RUN_SYSV=0' &&
   printf '%s\n' "$dry" | grep -qx 'prog a b'; then
	ok "--dry-run: LD_PRELOAD (ours first), MSHARE_RUN_* and the command"
else
	notok "--dry-run output" "$dry"
fi

# 10: a program that the library cannot reach: --verbose says so
cc -static -o "$tmp/static" -x c - <<<'int main(void) { return 0; }' 2>/dev/null
if [ -x "$tmp/static" ]; then
	w=$("$R" -v -- "$tmp/static" 2>&1)
	if printf '%s\n' "$w" | grep -q "is statically linked"; then
		ok "--verbose warns about a static program"
	else
		notok "--verbose warns about a static program" "$w"
	fi
else
	ok "--verbose warns about a static program # SKIP no static libc"
fi

# The probe, dynamically linked, for the pass-through checks
P=$tmp/mr-probe
cc -O2 -Wall -Wextra -Werror -Wno-unused-parameter -isystem "$hdr" -I"$top/tests" \
	-I"$top/userspace/libmshare/include" -o "$P" "$top/tests/dyn/mr-probe.c" \
	"$tmp/lib/libmshare.a" 2> "$tmp/cc.err"
if grep -qw msharefs /proc/filesystems 2>/dev/null; then
	for d in "mshare-run runs the program without the library" \
		 "--verbose says there is no mshare, once" \
		 "LD_PRELOAD by hand: mmap passes through" "LD_PRELOAD by hand: munmap of half passes through" \
		 "LD_PRELOAD by hand: System V passes through" "LD_PRELOAD by hand: fork and PageTables as plain" \
		 "LD_PRELOAD by hand: the library says once that there is no mshare"; do
		ok "$d # SKIP this host's kernel has mshare"
	done
elif [ ! -x "$P" ]; then
	for i in 1 2 3 4 5 6 7; do notok "build the probe" "$(cat "$tmp/cc.err")"; done
else
	# 11, 12: mshare-run on a kernel without mshare
	pre=$("$R" -- sh -c 'echo "[$LD_PRELOAD]"' 2>&1)
	if [ "$pre" = "[]" ] || [ "$pre" = "[${LD_PRELOAD:-}]" ]; then
		ok "no mshare here ($(uname -r)): mshare-run runs the program without the library"
	else
		notok "no mshare: the program runs without the library" "LD_PRELOAD was $pre"
	fi
	"$R" -v -- "$P" mmap 128M > "$tmp/run.out" 2> "$tmp/run.err"
	"$P" mmap 128M > "$tmp/plain.out" 2>&1
	if [ "$(grep -c 'no mshare' "$tmp/run.err")" = 1 ] &&
	   diff <(grep -v _vma= "$tmp/plain.out") <(grep -v _vma= "$tmp/run.out") > /dev/null; then
		ok "--verbose says there is no mshare, once; the program's output is unchanged"
	else
		notok "no mshare: said once, output unchanged" "$(cat "$tmp/run.err")" "$(diff "$tmp/plain.out" "$tmp/run.out")"
	fi
	# 13-16: the library preloaded by hand passes everything through
	same() {
		# addresses differ from run to run; everything else must not
		grep -vE '^[a-z]+_vma=|^shm_path=/SYSV|^pt_|^minflt' "$1"
	}
	for t in "mmap 128M|mmap passes through" "partial 128M|munmap of half passes through" \
		 "sysv 128M|System V passes through" "forks 4 64M|fork and PageTables as plain"; do
		args=${t%%|*}
		"$P" $args > "$tmp/p.out" 2>&1; prc=$?
		LD_PRELOAD=$L MSHARE_RUN_VERBOSE=1 MSHARE_RUN_MIN_SIZE=1048576 "$P" $args > "$tmp/l.out" 2> "$tmp/l.err"
		lrc=$?
		if [ "$prc" = 0 ] && [ "$lrc" = 0 ] && diff <(same "$tmp/p.out") <(same "$tmp/l.out") > "$tmp/d"; then
			ok "LD_PRELOAD by hand, no mshare: ${t#*|} (mr-probe $args)"
		else
			notok "LD_PRELOAD by hand, no mshare: ${t#*|}" "rc plain $prc, preloaded $lrc" "$(cat "$tmp/d")" "$(cat "$tmp/l.err")"
		fi
	done
	# 17
	if [ "$(grep -c 'no mshare' "$tmp/l.err")" = 1 ]; then
		ok "LD_PRELOAD by hand: the library says once that there is no mshare"
	else
		notok "the library says once that there is no mshare" "$(cat "$tmp/l.err")"
	fi
fi

# make clean, and the source tree untouched (counted with the build above)
make -s -C "$src" O="$out" clean > /dev/null 2>&1
left=$(cd "$out" && find . -mindepth 1 | sort | tr '\n' ' ')
status_after=$(cd "$top" && git status --porcelain --ignored userspace/mshare-run 2>/dev/null)
if [ -z "$left" ] && [ "$status_before" = "$status_after" ]; then
	ok "make clean removes the outputs; builds with O= leave the source tree alone"
else
	notok "make clean, source tree alone" "left: $left" "$(diff <(echo "$status_before") <(echo "$status_after"))"
fi
[ "$fails" = 0 ]
