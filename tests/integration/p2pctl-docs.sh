#!/bin/sh
# The documentation keeps up with the code: every p2pctl command and its options in
# p2pctl(1), every configuration key in p2pd.conf(5), p2pd(8) and the example
# etc/p2pd.conf, every option of p2pd and p2p-signald in their pages.
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
	mc=$(printf '%s' "$c" | sed 's/-/\\\\-/g')
	grep -q "^\.B[IR]* $mc\b" "$man1" || fail "p2pctl(1) does not document command \"$c\""
done

# man_has PAGE OPTION: an item line (.B/.BR/.BI) of PAGE names --OPTION.
man_has() {
	mh_opt=$(printf '%s' "$2" | sed 's/-/\\\\-/g')
	grep -q "^\.B[IR]* .*\\\\-\\\\-$mh_opt\([^a-z\\]\|\\\\f\|\$\)" "$1"
}

# Each command's options, as "p2pctl COMMAND --help" prints them, in the .TP item that
# documents the command; the global options in OPTIONS.
for c in $cmds; do
	mc=$(printf '%s' "$c" | sed 's/-/\\\\-/g')
	item=$(awk -v c="$mc" 'prev == ".TP" && $2 == c { print; exit } { prev = $0 }' "$man1")
	[ -n "$item" ] || fail "p2pctl(1) has no .TP item for command \"$c\""
	for o in $("$P2PCTL" "$c" --help | sed -n '/^Options:/,$p' | grep -o -- '--[a-z-]*'); do
		mo=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
		printf '%s\n' "$item" | grep -q -- "$mo" ||
			fail "p2pctl(1): the item for \"$c\" does not name its option $o"
	done
done
for o in $("$P2PCTL" --help | sed -n '/^Options:/,$p' | grep -o -- '--[a-z-]*'); do
	man_has "$man1" "${o#--}" || fail "p2pctl(1) does not document the global option $o"
done

# p2p-signald's options, as its --help prints them, in p2p-signald(8).
signald="$top_builddir/p2p-signald"
[ -x "$signald" ] || skip "p2p-signald not built"
opts=$("$signald" --help | sed -n '/^Application Options:/,$p' | grep -o -- '--[a-z-]*')
[ -n "$opts" ] || fail "no options in p2p-signald --help"
# The settings are documented by their key name (every key is also a flag).
for o in $opts; do
	mo=$(printf '%s' "${o#--}" | sed 's/-/\\\\-/g')
	man_has "$top_srcdir/man/p2p-signald.8" "${o#--}" ||
		grep -q "^\.B[IR]* $mo\b" "$top_srcdir/man/p2p-signald.8" ||
		fail "p2p-signald(8) does not document $o"
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

# p2pd's options that are not keys
for o in config check-config version; do
	man_has "$man8" "$o" || fail "p2pd(8) does not document --$o"
done

# The example must be a valid key file with only the [p2pd] group.
[ "$(grep -c '^\[' "$conf")" -eq 1 ] && grep -q '^\[p2pd\]$' "$conf" ||
	fail "etc/p2pd.conf: expected exactly one group [p2pd]"

pass "documentation covers every command and configuration key"
