# man/: manual pages, installed by "make install" and shipped by "make dist".
dist_man_MANS += man/p2pctl.1 man/p2pd.8 man/p2pd.conf.5
