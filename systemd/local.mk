# systemd/: the units, the p2p and p2p-signald users (sysusers.d) and p2pd's state
# directories (tmpfiles.d). The units name the configured paths, so they are made from
# .in files at build time.
systemd_edit = $(SED) \
	-e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@localstatedir[@]|$(localstatedir)|g' \
	-e 's|@runstatedir[@]|$(runstatedir)|g'

systemd_in_files = \
	systemd/p2pd.service.in \
	systemd/p2pd.socket.in \
	systemd/p2p-signald.service.in \
	systemd/tmpfiles.d/p2pd.conf.in

systemdsystemunit_DATA = systemd/p2pd.service systemd/p2pd.socket systemd/p2p-signald.service
dist_sysusers_DATA = systemd/sysusers.d/p2pd.conf systemd/sysusers.d/p2p-signald.conf
tmpfiles_DATA = systemd/tmpfiles.d/p2pd.conf
CLEANFILES += $(systemdsystemunit_DATA) $(tmpfiles_DATA)
EXTRA_DIST += $(systemd_in_files)

systemd/p2pd.service: $(srcdir)/systemd/p2pd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && $(systemd_edit) $(srcdir)/$@.in >$@.tmp && mv $@.tmp $@
systemd/p2pd.socket: $(srcdir)/systemd/p2pd.socket.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && $(systemd_edit) $(srcdir)/$@.in >$@.tmp && mv $@.tmp $@
systemd/p2p-signald.service: $(srcdir)/systemd/p2p-signald.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && $(systemd_edit) $(srcdir)/$@.in >$@.tmp && mv $@.tmp $@
systemd/tmpfiles.d/p2pd.conf: $(srcdir)/systemd/tmpfiles.d/p2pd.conf.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd/tmpfiles.d && $(systemd_edit) $(srcdir)/$@.in >$@.tmp && mv $@.tmp $@

# distcheck installs as an ordinary user into a staging prefix: the system's unit,
# sysusers, tmpfiles and completion directories are not writable there
AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir='$${prefix}/lib/systemd/system' \
	--with-sysusersdir='$${prefix}/lib/sysusers.d' \
	--with-tmpfilesdir='$${prefix}/lib/tmpfiles.d' \
	--with-bashcompletiondir='$${prefix}/share/bash-completion/completions'
