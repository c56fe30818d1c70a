#!/bin/sh
# debian/ builds the three packages (dpkg-buildpackage -us -uc -b, tests skipped: make
# check is what runs them) from a copy of the sources, and they hold what they should:
# programs, units the dh helpers enable, sysusers and tmpfiles entries, man pages,
# completion, the default configuration as a conffile. Unpacked into a throwaway root
# (dpkg -x): the maintainer scripts are read, not run.
. "$top_srcdir/tests/lib.sh"

need_tools dpkg-buildpackage dpkg-deb dh dh_installsysusers
(cd "$top_srcdir" && dpkg-checkbuilddeps) >"$T/deps.log" 2>&1 ||
	skip "build dependencies missing: $(cat "$T/deps.log")"

# a copy of the distributed sources: the build writes debian/build, debian/tmp and the
# .debs beside the tree, none of which belongs in $top_srcdir (read-only in distcheck)
mkdir "$T/src"
# (a git checkout: its files, not the build products beside them; a release tree, as
# in distcheck: all of it but distcheck's own build directory)
src=$(cd "$top_srcdir" && pwd -P)
if [ "$(git -C "$src" rev-parse --show-toplevel 2>/dev/null)" = "$src" ]; then
	(cd "$src" && git ls-files -co --exclude-standard -z |
		xargs -0 cp --parents -a -t "$T/src") || fail "cannot copy the sources"
else
	tar -C "$src" --exclude=./_build -cf - . | tar -C "$T/src" -xf - &&
		chmod -R u+w "$T/src" || fail "cannot copy the sources"
fi
[ -f "$T/src/debian/control" ] || fail "the copy of the sources has no debian/control"
(cd "$T/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1 ||
	fail "dpkg-buildpackage failed: $(tail -30 "$T/build.log")"
pass "dpkg-buildpackage -us -uc -b"

for p in p2pd p2pctl p2p-signald; do
	deb=$(ls "$T"/${p}_*.deb 2>/dev/null | head -1)
	[ -n "$deb" ] || fail "no $p package was built"
	dpkg-deb -x "$deb" "$T/root" || fail "dpkg -x $deb"
	mkdir -p "$T/ctl/$p"
	dpkg-deb -e "$deb" "$T/ctl/$p" || fail "dpkg -e $deb"
done

for f in usr/sbin/p2pd usr/bin/p2pctl usr/sbin/p2p-signald \
	lib/systemd/system/p2pd.service lib/systemd/system/p2pd.socket \
	lib/systemd/system/p2p-signald.service \
	usr/lib/sysusers.d/p2pd.conf usr/lib/sysusers.d/p2p-signald.conf \
	usr/lib/tmpfiles.d/p2pd.conf etc/p2pd/p2pd.conf \
	usr/share/man/man8/p2pd.8.gz usr/share/man/man5/p2pd.conf.5.gz \
	usr/share/man/man1/p2pctl.1.gz usr/share/man/man8/p2p-signald.8.gz \
	usr/share/bash-completion/completions/p2pctl \
	usr/share/bash-completion/completions/p2pd \
	usr/share/bash-completion/completions/p2p-signald; do
	[ -e "$T/root/$f" ] || fail "/$f is in no package"
done
grep -q "^ExecStart=/usr/sbin/p2pd$" "$T/root/lib/systemd/system/p2pd.service" ||
	fail "p2pd.service does not start /usr/sbin/p2pd"
grep -q "^ListenStream=/run/p2pd/control.sock$" "$T/root/lib/systemd/system/p2pd.socket" ||
	fail "p2pd.socket does not listen on /run/p2pd/control.sock"
grep -q "^d /var/lib/p2pd 0700 p2p p2p" "$T/root/usr/lib/tmpfiles.d/p2pd.conf" ||
	fail "tmpfiles.d/p2pd.conf does not create /var/lib/p2pd"
"$T/root/usr/sbin/p2pd" --version | grep -q "^p2pd " || fail "the packaged p2pd does not run"
"$T/root/usr/bin/p2pctl" --help | grep -q "/run/p2pd/control.sock" ||
	fail "the packaged p2pctl does not default to /run/p2pd/control.sock"
pass "the packages hold programs, units, sysusers, tmpfiles, man pages, completion"

grep -qx "/etc/p2pd/p2pd.conf" "$T/ctl/p2pd/conffiles" || fail "/etc/p2pd/p2pd.conf is no conffile"
for u in p2pd.socket p2pd.service; do
	grep -q "deb-systemd-helper.* enable '$u'\|enable.*'$u'" "$T/ctl/p2pd/postinst" ||
		fail "p2pd's postinst does not enable $u"
done
grep -q "enable.*'p2p-signald.service'" "$T/ctl/p2p-signald/postinst" ||
	fail "p2p-signald's postinst does not enable p2p-signald.service"
grep -q "systemd-sysusers.*p2pd.conf" "$T/ctl/p2pd/postinst" ||
	fail "p2pd's postinst does not create the user p2p"
grep -q "systemd-tmpfiles.*p2pd.conf" "$T/ctl/p2pd/postinst" ||
	fail "p2pd's postinst does not create /var/lib/p2pd"
# the user first: tmpfiles gives it /var/lib/p2pd, the socket unit its control socket
[ "$(grep -n systemd-sysusers "$T/ctl/p2pd/postinst" | head -1 | cut -d: -f1)" -lt \
	"$(grep -n systemd-tmpfiles "$T/ctl/p2pd/postinst" | head -1 | cut -d: -f1)" ] ||
	fail "p2pd's postinst runs systemd-tmpfiles before systemd-sysusers"
pass "maintainer scripts: units enabled, user and directories created"
