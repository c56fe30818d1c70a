#!/bin/sh
# The documentation keeps up with the code: every p2pctl command in p2pctl(1), every
# configuration key in p2pd.conf(5), p2pd(8) and the example etc/p2pd.conf.
. "$(dirname "$0")/../lib.sh"

[ -x "$P2PCTL" ] || skip "p2pctl not built"
man1="$top_srcdir/man/p2pctl.1"
man5="$top_srcdir/man/p2pd.conf.5"
man8="$top_srcdir/man/p2pd.8"
conf="$top_srcdir/etc/p2pd.conf"

# Command names from the table, as --help prints them.
cmds=$("$P2PCTL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF && !/^Commands:/ {print $1}')
[ -n "$cmds" ] || fail "no commands in p2pctl --help"
for c in $cmds; do
	grep -q "^\.B[IR]* $c\b" "$man1" || fail "p2pctl(1) does not document command \"$c\""
done

# Configuration keys from the daemon's own table, as p2pd --help prints them.
[ -x "$top_builddir/p2pd" ] || skip "p2pd not built"
keys=$("$top_builddir/p2pd" --help | sed -n 's/^  --\([a-z-]*\)=.*/\1/p' | grep -v '^config$')
[ -n "$keys" ] || fail "no keys in p2pd --help"
for key in $keys; do
	mkey=$(printf '%s' "$key" | sed 's/-/\\\\-/g')
	grep -q "^\.B $mkey\$" "$man5" || fail "p2pd.conf(5) does not document \"$key\""
	grep -q "^\.BI\{0,1\}R\{0,1\} \\\\-\\\\-$mkey=" "$man8" || fail "p2pd(8) does not document --$key"
	grep -q "^#\{0,1\}$key=" "$conf" || fail "etc/p2pd.conf does not show \"$key\""
done

# The example must be a valid key file with only the [p2pd] group.
[ "$(grep -c '^\[' "$conf")" -eq 1 ] && grep -q '^\[p2pd\]$' "$conf" ||
	fail "etc/p2pd.conf: expected exactly one group [p2pd]"

pass "documentation covers every command and configuration key"
