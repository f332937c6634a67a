#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mshare(1), the command-line tool (userspace/mshare), in the guest: every
# command in table and --json form, size suffixes, attachments held by
# `mshare attach` in the background, the error messages and exit codes
# (missing names, bad sizes, EEXIST, EINVAL from the kernel, permission
# denied for another user), names that need escaping, and `info` without
# msharefs.  TAP output.  POSIX sh (busybox ash); no python in the guest, so
# JSON is checked by a small validator in awk and by its keys and values.

M=$(command -v mshare || echo /tests/bin/mshare)
D=/sys/fs/mshare
P=clitest-			# every region this test makes
T=$(mktemp -d /tmp/mshare_cli.XXXXXX) || exit 1
chmod 755 "$T"
n=0
failed=0
pids=

echo "1..123"

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for f in "$D/$P"*; do
		[ -e "$f" ] && rm -f "$f"
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# run CMD...: its stdout, stderr and exit status in $T/out, $T/err and $rc
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# as_user CMD-STRING: run it as uid 1000 ("user"), like run
as_user() {
	su -s /bin/sh user -c "$1" >"$T/out" 2>"$T/err"
	rc=$?
}

# check DESCRIPTION CONDITION: one TAP result; the condition is eval'd
check() {
	desc=$1
	shift
	n=$((n + 1))
	if eval "$*"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
		echo "# condition: $*"
		echo "# rc=$rc"
		sed 's/^/# out: /' "$T/out" 2>/dev/null | head -40
		sed 's/^/# err: /' "$T/err" 2>/dev/null | head -20
	fi
}

# Output checks on $T/out and $T/err.
out_has() { grep -qxF -- "$1" "$T/out"; }		# a whole line
out_re() { grep -qE -- "$1" "$T/out"; }			# an ERE
err_is() { [ "$(cat "$T/err")" = "$1" ]; }		# all of stderr
err_first() { [ "$(head -n 1 "$T/err")" = "$1" ]; }	# its first line
out_empty() { [ ! -s "$T/out" ]; }
err_empty() { [ ! -s "$T/err" ]; }
# A table line with its runs of blanks squeezed to one space.
row_is() { tr -s ' ' < "$T/out" | grep -qxF -- "$1"; }
row_re() { tr -s ' ' < "$T/out" | grep -qxE -- "$1"; }	# the same, an ERE
# A region's page-table bytes as the kernel reports them (read() of it): a
# region holds its PMD tables from the moment its size is set.
ptb() { sed -n 's/^pgtable: //p' "$D/$1"; }
H='[0-9.]+[KMGT]?'	# a human-readable size in a table

# json_valid [FILE]: is it exactly one valid JSON value?
json_valid() {
	awk '
	function ws() { while (pos <= len && index(" \t\r\n", substr(s, pos, 1))) pos++ }
	function str(   c, e) {
		pos++
		for (;;) {
			c = substr(s, pos, 1)
			if (c == "") return 0
			if (c == "\"") { pos++; return 1 }
			if (c == "\\") {
				e = substr(s, pos + 1, 1)
				if (index("\"\\/bfnrt", e) && e != "") pos += 2
				else if (e == "u" && substr(s, pos + 2, 4) ~ /^[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]$/) pos += 6
				else return 0
			} else pos++
		}
	}
	function num() {
		if (!match(substr(s, pos), /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) return 0
		pos += RLENGTH
		return 1
	}
	function arr(   c) {
		pos++; ws()
		if (substr(s, pos, 1) == "]") { pos++; return 1 }
		for (;;) {
			if (!val()) return 0
			ws(); c = substr(s, pos, 1); pos++
			if (c == "]") return 1
			if (c != ",") return 0
		}
	}
	function obj(   c) {
		pos++; ws()
		if (substr(s, pos, 1) == "}") { pos++; return 1 }
		for (;;) {
			ws()
			if (substr(s, pos, 1) != "\"" || !str()) return 0
			ws()
			if (substr(s, pos, 1) != ":") return 0
			pos++
			if (!val()) return 0
			ws(); c = substr(s, pos, 1); pos++
			if (c == "}") return 1
			if (c != ",") return 0
		}
	}
	function val(   c) {
		ws(); c = substr(s, pos, 1)
		if (c == "{") return obj()
		if (c == "[") return arr()
		if (c == "\"") return str()
		if (substr(s, pos, 4) == "true") { pos += 4; return 1 }
		if (substr(s, pos, 5) == "false") { pos += 5; return 1 }
		if (substr(s, pos, 4) == "null") { pos += 4; return 1 }
		return num()
	}
	{ s = s $0 "\n" }
	END {
		len = length(s); pos = 1
		if (s ~ /[[:cntrl:]]/ && s !~ /^[^[:cntrl:]]*\n$/) exit 1
		if (!val()) exit 1
		ws()
		exit pos <= len
	}' "${1:-$T/out}"
}

# json_obj NAME: the flat fields of the JSON object whose "name" is NAME
# (objects are split at "{", so a region's own fields come out on one line)
json_obj() { tr '{' '\n' < "$T/out" | grep -F -- "\"name\":\"$1\","; }
# json_has NAME FIELDS: does that object hold the text FIELDS?
json_has() { json_obj "$1" | grep -qF -- "$2"; }
# json_num NAME KEY: a number field of that object
json_num() { json_obj "$1" | sed -n "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p"; }
# top_has TEXT: does the JSON output hold TEXT?
top_has() { grep -qF -- "$1" "$T/out"; }

# wait_attach NAME N: until NAME has N attachments (at most 120 s)
wait_attach() {
	i=0
	while [ $i -lt 240 ]; do
		"$M" --json stat "$1" > "$T/wait" 2>/dev/null &&
			grep -qF "\"attachments\":$2," "$T/wait" && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

# wait_line FILE: until FILE holds a line (the holder's "attached" line)
wait_line() {
	i=0
	while [ $i -lt 240 ]; do
		[ -s "$1" ] && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

nregions() { ls -A "$D" | grep -vcx mshare_info; }

for f in "$D/$P"*; do
	[ -e "$f" ] && rm -f "$f"
done
umask 077

# ---- basics ----
run "$M" --version
check "--version" '[ $rc = 0 ] && out_re "^mshare [0-9]+\.[0-9]+ \(libmshare [0-9]+\.[0-9]+\)$" && err_empty'
run "$M" --help
check "--help lists every command and exits 0" '[ $rc = 0 ] && out_re "^Usage: mshare" && out_re "^  ls " && out_re "^  stat NAME" && out_re "^  create NAME SIZE" && out_re "^  rm NAME" && out_re "^  info " && out_re "^  attach NAME"'
run "$M" ls -h
check "-h after a command" '[ $rc = 0 ] && out_re "^Usage: mshare"'
run "$M"
check "no command: usage error, exit 2" '[ $rc = 2 ] && out_empty && err_is "mshare: missing command
Try '\''mshare --help'\'' for more information."'
run "$M" frobnicate
check "unknown command: exit 2" '[ $rc = 2 ] && err_first "mshare: unknown command '\''frobnicate'\''"'
run "$M" ls --bogus
check "unknown option: exit 2" '[ $rc = 2 ] && err_first "mshare: unrecognized option '\''--bogus'\''"'
run "$M" ls -x
check "unknown short option: exit 2" '[ $rc = 2 ] && err_first "mshare: invalid option -- '\''x'\''"'
run "$M" rm --mode 0600 x
check "an option of another command: exit 2" '[ $rc = 2 ] && err_first "mshare: rm: invalid option '\''--mode'\''"'
run "$M" ls extra
check "ls takes no operand: exit 2" '[ $rc = 2 ] && err_first "mshare: ls: extra operand '\''extra'\''"'

# ---- info ----
run "$M" info
check "info: alignment, directory, mounted, syscall" '[ $rc = 0 ] && err_empty && out_has "alignment: 1.0G (1073741824 bytes)" && out_has "directory: /sys/fs/mshare" && out_has "mounted:   yes" && out_has "syscall:   yes"'
check "info: number of regions" 'out_has "regions:   $(nregions)"'
run "$M" info --json
check "info --json is valid JSON" '[ $rc = 0 ] && json_valid'
check "info --json values" 'top_has "\"alignment\":1073741824," && top_has "\"directory\":\"/sys/fs/mshare\"," && top_has "\"mounted\":true," && top_has "\"syscall\":true," && top_has "\"regions\":$(nregions)}"'
mkdir -p "$T/empty"
MSHARE_DIR=$T/empty run "$M" info
check "info without msharefs: mounted: no, exit 0" '[ $rc = 0 ] && out_has "mounted:   no" && out_has "directory: $T/empty" && out_has "regions:   -" && err_empty'
MSHARE_DIR=$T/empty run "$M" --json info
check "info --json without msharefs" '[ $rc = 0 ] && json_valid && top_has "\"directory\":\"$T/empty\"," && top_has "\"mounted\":false," && top_has "\"regions\":null}"'
MSHARE_DIR=$T/empty run "$M" ls
check "ls without msharefs: exit 1" '[ $rc = 1 ] && out_empty && err_is "mshare: msharefs is not mounted at '\''$T/empty'\''"'

# ---- create ----
run "$M" create ${P}a 1G
check "create NAME 1G: exit 0, silent" '[ $rc = 0 ] && out_empty && err_empty'
check "create: the region exists, 1 GiB, mode 0600" '[ -f $D/${P}a ] && [ "$(stat -c %s $D/${P}a)" = 1073741824 ] && [ "$(stat -c %a $D/${P}a)" = 600 ]'
run "$M" create ${P}b 2GiB --mode 0644
check "create 2GiB --mode 0644 (after the operands, umask 077)" '[ $rc = 0 ] && [ "$(stat -c %s $D/${P}b)" = 2147483648 ] && [ "$(stat -c %a $D/${P}b)" = 644 ]'
run "$M" create -m 640 ${P}c 1073741824
check "create with plain bytes, -m 640" '[ $rc = 0 ] && [ "$(stat -c %s $D/${P}c)" = 1073741824 ] && [ "$(stat -c %a $D/${P}c)" = 640 ]'
run "$M" create ${P}d 1g
check "create 1g (lower case)" '[ $rc = 0 ] && [ "$(stat -c %s $D/${P}d)" = 1073741824 ]'
run "$M" create ${P}e 1048576K
check "create 1048576K" '[ $rc = 0 ] && [ "$(stat -c %s $D/${P}e)" = 1073741824 ]'
run "$M" create ${P}f 0.5T
check "create 0.5T (a fraction)" '[ $rc = 0 ] && [ "$(stat -c %s $D/${P}f)" = 549755813888 ]'
run "$M" create ${P}g 3GB
check "create 3GB" '[ $rc = 0 ] && [ "$(stat -c %s $D/${P}g)" = 3221225472 ]'
run "$M" create ${P}a 1G
check "create an existing name: File exists, exit 1" '[ $rc = 1 ] && out_empty && err_is "mshare: cannot create '\''${P}a'\'': File exists"'
run "$M" create ${P}a 2G
check "create an existing name leaves it alone" '[ $rc = 1 ] && [ "$(stat -c %s $D/${P}a)" = 1073741824 ]'
for s in abc 0 0G 1.5 1.5X 99999999999999999999G 16E 1G1 " 1G" ""; do
	run "$M" create ${P}x "$s"
	check "invalid size '$s': exit 1" '[ $rc = 1 ] && out_empty && err_is "mshare: invalid size '\''$s'\''" && [ ! -e $D/${P}x ]'
done
run "$M" create ${P}x 1.5G
check "1.5G (unaligned): the kernel says EINVAL, exit 1" '[ $rc = 1 ] && err_is "mshare: cannot create '\''${P}x'\'': Invalid argument"'
check "1.5G: no half-made region is left" '[ ! -e $D/${P}x ]'
run "$M" create ${P}x 512M
check "512M: EINVAL, nothing left" '[ $rc = 1 ] && err_is "mshare: cannot create '\''${P}x'\'': Invalid argument" && [ ! -e $D/${P}x ]'
run "$M" create ${P}x 1G --mode 999
check "invalid mode: exit 1" '[ $rc = 1 ] && err_is "mshare: invalid mode '\''999'\''" && [ ! -e $D/${P}x ]'
run "$M" create ${P}x
check "create without SIZE: usage error, exit 2" '[ $rc = 2 ] && err_is "mshare: create: missing operand (SIZE)
Try '\''mshare --help'\'' for more information."'
run "$M" create ${P}x 1G 2G
check "create with an extra operand: exit 2" '[ $rc = 2 ] && err_first "mshare: create: extra operand '\''2G'\''" && [ ! -e $D/${P}x ]'
run "$M" create ${P}x/y 1G
check "a name with a slash: exit 1" '[ $rc = 1 ] && err_is "mshare: invalid region name '\''${P}x/y'\''"'
run "$M" create --mode
check "--mode without a value: exit 2" '[ $rc = 2 ] && err_first "mshare: option '\''--mode'\'' requires an argument"'
run "$M" create mshare_info 1G
check "create mshare_info: File exists" '[ $rc = 1 ] && err_is "mshare: cannot create '\''mshare_info'\'': File exists"'

# ---- ls ----
run "$M" ls
check "ls: exit 0, header" '[ $rc = 0 ] && err_empty && [ "$(head -n 1 $T/out | tr -s " ")" = "NAME SIZE OWNER MODE ATTACH PROCS RESIDENT PGTABLE SAVED PIDS" ]'
check "ls: an idle 1G region" 'row_re "${P}a 1\.0G root -rw------- 0 0 0 $H 0 -" && [ "$(ptb ${P}a)" -gt 0 ]'
check "ls: 2G, mode 0644" 'row_re "${P}b 2\.0G root -rw-r--r-- 0 0 0 $H 0 -"'
check "ls: 0.5T shows as 512G, 3GB as 3.0G" 'row_re "${P}f 512G root -rw------- 0 0 0 $H 0 -" && row_re "${P}g 3\.0G root -rw------- 0 0 0 $H 0 -"'
check "ls: sorted by name, mshare_info not listed" '[ "$(grep -o "^${P}[a-g] " $T/out | tr -d " " | tr "\n" " ")" = "${P}a ${P}b ${P}c ${P}d ${P}e ${P}f ${P}g " ] && ! grep -q mshare_info $T/out'
run "$M" ls --bytes
check "ls --bytes: exact sizes" '[ $rc = 0 ] && row_is "${P}a 1073741824 root -rw------- 0 0 0 $(ptb ${P}a) 0 -" && row_is "${P}f 549755813888 root -rw------- 0 0 0 $(ptb ${P}f) 0 -"'
run "$M" ls --json
check "ls --json is valid JSON" '[ $rc = 0 ] && json_valid && err_empty'
check "ls --json: the directory, one object per region" 'top_has "{\"directory\":\"/sys/fs/mshare\",\"regions\":[" && [ "$(tr "{" "\n" < $T/out | grep -c "\"name\":\"$P")" = 7 ]'
check "ls --json: an idle region's fields" 'json_has ${P}a "\"name\":\"${P}a\",\"size\":1073741824,\"uid\":0,\"user\":\"root\",\"gid\":0,\"group\":\"root\",\"mode\":\"0600\",\"attachments\":0,\"mappings\":0,\"resident\":0,\"pgtable\":$(ptb ${P}a),\"pgtable_saved\":0,\"processes\":0,\"pids\":[]}"'
check "ls --json: sizes in bytes" '[ "$(json_num ${P}f size)" = 549755813888 ] && json_has ${P}b "\"mode\":\"0644\""'
run "$M" --json ls
check "--json before the command" '[ $rc = 0 ] && json_valid && json_has ${P}a "\"size\":1073741824,"'

# ---- stat ----
run "$M" stat ${P}a
check "stat: exit 0" '[ $rc = 0 ] && err_empty'
check "stat: the figures" 'out_has "name:          ${P}a" && out_has "size:          1.0G" && out_has "owner:         root (0)" && out_has "group:         root (0)" && out_has "mode:          -rw------- (0600)" && out_has "attachments:   0" && out_has "mappings:      0" && out_has "resident:      0" && out_re "^pgtable: +$H$" && out_has "pgtable_saved: 0" && out_has "processes:     0" && out_has "pids:          -"'
check "stat: no mapping table for an empty region" '! grep -q "^START" $T/out'
run "$M" stat --json ${P}b
check "stat --json is valid JSON" '[ $rc = 0 ] && json_valid'
check "stat --json fields" 'json_has ${P}b "\"size\":2147483648,\"uid\":0,\"user\":\"root\",\"gid\":0,\"group\":\"root\",\"mode\":\"0644\",\"attachments\":0,\"mappings\":0,\"resident\":0,\"pgtable\":$(ptb ${P}b),\"pgtable_saved\":0,\"processes\":0,\"pids\":[],\"maps\":[]}"'
run "$M" stat --bytes ${P}b
check "stat --bytes" '[ $rc = 0 ] && out_has "size:          2147483648"'
run "$M" stat ${P}zz
check "stat of a missing name: exit 1" '[ $rc = 1 ] && out_empty && err_is "mshare: cannot stat '\''${P}zz'\'': No such file or directory"'
run "$M" stat
check "stat without a name: exit 2" '[ $rc = 2 ] && err_first "mshare: stat: missing operand"'
run "$M" stat ${P}a ${P}b
check "stat of two names: exit 2" '[ $rc = 2 ] && err_first "mshare: stat: extra operand '\''${P}b'\''"'
run "$M" stat mshare_info
check "stat mshare_info: not a region" '[ $rc = 1 ] && err_is "mshare: '\''mshare_info'\'' is not a region"'

# ---- the mainline way: open(O_CREAT) and ftruncate ----
touch $D/${P}m
run "$M" ls
check "ls: a region whose size is not set yet" '[ $rc = 0 ] && row_is "${P}m 0 root -rw------- 0 0 0 0 0 -"'
run "$M" attach ${P}m --seconds 0
check "attach a region of size 0: EINVAL, exit 1" '[ $rc = 1 ] && err_is "mshare: cannot attach '\''${P}m'\'': Invalid argument"'
truncate -s 1G $D/${P}m
run "$M" --json stat ${P}m
check "after truncate -s 1G: stat shows the size" '[ $rc = 0 ] && json_valid && [ "$(json_num ${P}m size)" = 1073741824 ]'

# ---- attachments ----
"$M" attach ${P}a --map 16M --touch 16M > $T/h1.out 2> $T/h1.err &
h1=$!
pids="$pids $h1"
wait_line $T/h1.out
check "attach --map --touch: the holder reports itself" 'grep -qE "^attached ${P}a at 0x[0-9a-f]+, 1\.0G, pid $h1, touched 16M$" $T/h1.out && [ ! -s $T/h1.err ]'
wait_attach ${P}a 1
wa=$?
check "stat: one attachment" '[ $wa = 0 ]'
run "$M" stat ${P}a
check "stat: the attached region's figures" '[ $rc = 0 ] && out_has "attachments:   1" && out_has "processes:     1" && out_has "pids:          $h1" && out_has "mappings:      1" && out_has "pgtable_saved: 0" && ! out_has "pgtable:       0" && ! out_has "resident:      0"'
check "stat: the mapping table" 'out_re "^START +END +SIZE +PERMS +TYPE +OFFSET$" && row_is "0 0x1000000 16M rw-s shmem 0"'
run "$M" stat --json ${P}a
check "stat --json of an attached region is valid" '[ $rc = 0 ] && json_valid'
check "stat --json: attachments 1, processes 1, pgtable > 0, resident >= 16M" '[ "$(json_num ${P}a attachments)" = 1 ] && [ "$(json_num ${P}a processes)" = 1 ] && json_has ${P}a "\"pids\":[$h1]," && [ "$(json_num ${P}a pgtable)" -gt 0 ] && [ "$(json_num ${P}a resident)" -ge 16777216 ] && [ "$(json_num ${P}a pgtable_saved)" = 0 ] && [ "$(json_num ${P}a mappings)" = 1 ]'
check "stat --json: the mapping" 'top_has "\"maps\":[{\"start\":0,\"end\":16777216,\"size\":16777216,\"perms\":\"rw-s\",\"type\":\"shmem\",\"offset\":0}]}"'

"$M" --json attach ${P}a --touch 8M --seconds 600 > $T/h2.out 2> $T/h2.err &
h2=$!
pids="$pids $h2"
wait_line $T/h2.out
check "attach --json: the holder's line is valid JSON" 'json_valid $T/h2.out && grep -qE "^\{\"name\":\"${P}a\",\"pid\":$h2,\"address\":\"0x[0-9a-f]+\",\"size\":1073741824,\"touched\":8388608\}$" $T/h2.out'
wait_attach ${P}a 2
wa=$?
check "a second holder: two attachments" '[ $wa = 0 ]'
run "$M" --json stat ${P}a
pt=$(json_num ${P}a pgtable)
# What each attachment would need for the 16M: 8 PTE tables and the PMD
# table; pgtable_saved is that for both, less what the region holds.
sv=$((2 * 9 * 4096 - pt))
[ $sv -gt 0 ] || sv=0
# the holders' pids, sorted
pl=$(printf '%s\n' $h1 $h2 | sort -n | tr '\n' ',' | sed 's/,$//')
check "two attachments: pgtable_saved measured, two processes" '[ $rc = 0 ] && [ "$pt" -gt 0 ] && [ "$(json_num ${P}a pgtable_saved)" = "$sv" ] && [ "$sv" -gt 0 ] && [ "$(json_num ${P}a attachments)" = 2 ] && [ "$(json_num ${P}a processes)" = 2 ] && json_has ${P}a "\"pids\":[$pl],"'
run "$M" stat ${P}a
check "stat: both holders' pids" '[ $rc = 0 ] && out_has "processes:     2" && out_has "pids:          $(echo $pl | tr , " ")"'
run "$M" --json ls
check "ls --json: two attachments, the savings and the pids" 'json_valid && [ "$(json_num ${P}a attachments)" = 2 ] && [ "$(json_num ${P}a pgtable_saved)" = "$sv" ] && [ "$(json_num ${P}a resident)" -ge 16777216 ] && json_has ${P}a "\"processes\":2,\"pids\":[$pl]}"'
run "$M" ls
check "ls: ATTACH 2, PROCS 2, SAVED not 0, the PIDS" '[ $rc = 0 ] && tr -s " " < $T/out | grep -E "^${P}a " | awk -v pl="$pl" "{ exit !(\$5 == 2 && \$6 == 2 && \$9 != \"0\" && \$7 != \"0\" && \$10 == pl) }"'
run "$M" ls --bytes
check "ls --bytes: SAVED in bytes" 'tr -s " " < $T/out | grep -qE "^${P}a 1073741824 root -rw------- 2 2 [0-9]+ $pt $sv $pl$"'

run "$M" rm ${P}a
check "rm while attached: exit 0" '[ $rc = 0 ] && out_empty && err_empty && [ ! -e $D/${P}a ]'
run "$M" ls
check "rm: the name is gone from ls" '[ $rc = 0 ] && ! grep -q "^${P}a " $T/out'
check "rm: the holders go on" 'kill -0 $h1 && kill -0 $h2'
kill -TERM $h1 $h2
wait $h1
r1=$?
wait $h2
r2=$?
pids=
check "SIGTERM: the holders detach and exit 0" '[ $r1 = 0 ] && [ $r2 = 0 ] && [ ! -s $T/h1.err ] && [ ! -s $T/h2.err ]'

run "$M" attach ${P}c --map 4M --touch 4M --seconds 0.2
check "attach --seconds: exits 0 by itself" '[ $rc = 0 ] && err_empty && out_re "^attached ${P}c at 0x[0-9a-f]+, 1\.0G, pid [0-9]+, touched 4\.0M$"'
run "$M" --json stat ${P}c
check "after the holder left: no attachment, the mapping stays" '[ $rc = 0 ] && [ "$(json_num ${P}c attachments)" = 0 ] && [ "$(json_num ${P}c mappings)" = 1 ] && top_has "\"end\":4194304,"'
run "$M" attach ${P}c --map 4M --seconds 0
check "attach --map over a mapping: File exists, exit 1" '[ $rc = 1 ] && out_empty && err_is "mshare: cannot map 4.0M in '\''${P}c'\'': File exists"'
run "$M" attach --read-only ${P}c --touch 1G --seconds 0
check "attach --read-only --touch beyond the mappings" '[ $rc = 0 ] && err_empty && out_re "^attached ${P}c at 0x[0-9a-f]+, 1\.0G, pid [0-9]+, touched 4\.0M$"'
run "$M" attach -r ${P}c --map 4M
check "attach -r --map: usage error, exit 2" '[ $rc = 2 ] && err_first "mshare: attach: --map needs a writable attachment"'
run "$M" attach ${P}zz --seconds 0
check "attach a missing name: exit 1" '[ $rc = 1 ] && out_empty && err_is "mshare: cannot open '\''${P}zz'\'': No such file or directory"'
run "$M" attach ${P}c --seconds soon
check "attach --seconds soon: exit 1" '[ $rc = 1 ] && err_is "mshare: invalid number of seconds '\''soon'\''"'
run "$M" attach ${P}c --touch 0 --seconds 0
check "attach --touch 0: invalid size" '[ $rc = 1 ] && err_is "mshare: invalid size '\''0'\''"'

# ---- rm ----
run "$M" rm ${P}b ${P}zz ${P}c
check "rm of three names, one missing: exit 1, the message" '[ $rc = 1 ] && out_empty && err_is "mshare: cannot remove '\''${P}zz'\'': No such file or directory"'
check "rm: the others are removed" '[ ! -e $D/${P}b ] && [ ! -e $D/${P}c ]'
run "$M" rm -f ${P}zz ${P}d
check "rm -f ignores missing names" '[ $rc = 0 ] && err_empty && [ ! -e $D/${P}d ]'
run "$M" rm
check "rm without a name: exit 2" '[ $rc = 2 ] && err_first "mshare: rm: missing operand"'
run "$M" rm mshare_info
check "rm mshare_info is refused" '[ $rc = 1 ] && err_is "mshare: '\''mshare_info'\'' is not a region" && [ -e $D/mshare_info ]'
run "$M" rm -- ${P}e
check "rm -- NAME" '[ $rc = 0 ] && [ ! -e $D/${P}e ]'

# ---- names that need escaping ----
q="${P}q\"uo\\te"
tab=$(printf '%st\tab' "$P")
run "$M" create "$q" 1G
r1=$rc
run "$M" create "$tab" 1G
check "create names with a quote, a backslash and a tab" '[ $r1 = 0 ] && [ $rc = 0 ] && [ -e "$D/$q" ] && [ -e "$D/$tab" ]'
run "$M" ls --json
check "ls --json escapes them and stays valid" 'json_valid && top_has "\"name\":\"${P}q\\\"uo\\\\te\"," && top_has "\"name\":\"${P}t\\tab\","'
run "$M" stat --json "$q"
check "stat --json escapes the name" '[ $rc = 0 ] && json_valid && top_has "{\"name\":\"${P}q\\\"uo\\\\te\","'
run "$M" ls
check "ls shows the tab as ?" 'row_re "${P}t\?ab 1\.0G root -rw------- 0 0 0 $H 0 -"'
"$M" rm "$q" "$tab"
r1=$?
check "rm of those names" '[ $r1 = 0 ] && [ ! -e "$D/$q" ] && [ ! -e "$D/$tab" ]'

# ---- permissions: another user ----
"$M" create ${P}s 1G
"$M" create ${P}r 1G --mode 644
as_user "id -u"
check "su to uid 1000 works" '[ $rc = 0 ] && out_has 1000'
as_user "$M stat ${P}s"
check "stat of root's 0600 region as a user: Permission denied" '[ $rc = 1 ] && out_empty && err_is "mshare: cannot stat '\''${P}s'\'': Permission denied"'
as_user "$M ls"
check "ls as a user: exit 0, figures of the unreadable region are -" '[ $rc = 0 ] && err_empty && row_is "${P}s 1.0G root -rw------- - - - - - -" && row_re "${P}r 1\.0G root -rw-r--r-- 0 0 0 $H 0 -"'
as_user "$M ls --json"
check "ls --json as a user: null figures, size from stat" 'json_valid && json_has ${P}s "\"size\":1073741824,\"uid\":0,\"user\":\"root\",\"gid\":0,\"group\":\"root\",\"mode\":\"0600\",\"attachments\":null,\"mappings\":null,\"resident\":null,\"pgtable\":null,\"pgtable_saved\":null,\"processes\":null,\"pids\":null}"'
as_user "$M rm ${P}s"
check "rm of root's region as a user: Operation not permitted (sticky)" '[ $rc = 1 ] && err_is "mshare: cannot remove '\''${P}s'\'': Operation not permitted" && [ -e $D/${P}s ]'
as_user "$M attach ${P}s --seconds 0"
check "attach of root's 0600 region as a user: Permission denied" '[ $rc = 1 ] && err_is "mshare: cannot open '\''${P}s'\'': Permission denied"'
as_user "$M attach ${P}r --seconds 0"
check "attach read-write of a 0644 region as a user: Permission denied" '[ $rc = 1 ] && err_is "mshare: cannot open '\''${P}r'\'': Permission denied"'
as_user "$M attach -r ${P}r --seconds 0"
check "attach -r of a 0644 region as a user works" '[ $rc = 0 ] && err_empty && out_re "^attached ${P}r at 0x"'
as_user "$M stat ${P}r"
check "stat of a 0644 region as a user works" '[ $rc = 0 ] && out_has "owner:         root (0)"'
as_user "$M create ${P}u 1G"
check "create as a user" '[ $rc = 0 ] && [ "$(stat -c %u $D/${P}u)" = 1000 ]'
run "$M" ls
check "ls: the owner by name from /etc/passwd" 'row_re "${P}u 1\.0G user -rw------- 0 0 0 $H 0 -"'
run "$M" stat --json ${P}u
check "stat --json: uid and user name" 'json_has ${P}u "\"uid\":1000,\"user\":\"user\",\"gid\":1000,\"group\":\"user\","'
as_user "$M rm ${P}u"
check "rm of one's own region as a user" '[ $rc = 0 ] && [ ! -e $D/${P}u ]'
"$M" rm ${P}s ${P}r
r1=$?
check "rm as root of the rest" '[ $r1 = 0 ] && [ ! -e $D/${P}s ] && [ ! -e $D/${P}r ]'

# ---- info counts regions ----
before=$(nregions)
"$M" create ${P}i 1G
run "$M" --json info
check "info --json counts a new region" '[ $rc = 0 ] && top_has "\"regions\":$((before + 1))}"'
"$M" rm ${P}f ${P}g ${P}i ${P}m
run "$M" info
check "info counts regions after rm" '[ $rc = 0 ] && out_has "regions:   $((before - 3))" && [ $(nregions) = $((before - 3)) ]'

# every region of this test is gone
check "no region of this test is left" '! ls -A $D | grep -q "^$P"'
[ $n = 123 ] || echo "# ran $n checks, the plan says 123"
exit $((failed > 0))
