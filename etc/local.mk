# etc/: the annotated configuration. "make install" puts it in the documentation as an
# example, and as $(sysconfdir)/p2pd/p2pd.conf when there is none yet: the file is the
# administrator's from then on, so an install never overwrites it and an uninstall
# removes it only while it is unchanged.
p2pdexampledir = $(docdir)/examples
dist_p2pdexample_DATA = etc/p2pd.conf

p2pdconfdir = $(sysconfdir)/p2pd

install-data-local: install-p2pd-conf
install-p2pd-conf:
	$(MKDIR_P) '$(DESTDIR)$(p2pdconfdir)'
	if test -e '$(DESTDIR)$(p2pdconfdir)/p2pd.conf'; then \
		echo "keeping $(DESTDIR)$(p2pdconfdir)/p2pd.conf"; \
	else \
		$(INSTALL_DATA) '$(srcdir)/etc/p2pd.conf' '$(DESTDIR)$(p2pdconfdir)/p2pd.conf'; \
	fi

uninstall-local: uninstall-p2pd-conf
uninstall-p2pd-conf:
	if cmp -s '$(srcdir)/etc/p2pd.conf' '$(DESTDIR)$(p2pdconfdir)/p2pd.conf'; then \
		rm -f '$(DESTDIR)$(p2pdconfdir)/p2pd.conf'; \
	fi
	-rmdir '$(DESTDIR)$(p2pdconfdir)' 2>/dev/null

.PHONY: install-p2pd-conf uninstall-p2pd-conf
