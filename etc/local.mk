# etc/: annotated example configuration, installed as documentation (the real
# /etc/p2pd/p2pd.conf belongs to the administrator, so make install never writes it).
p2pdexampledir = $(docdir)/examples
dist_p2pdexample_DATA = etc/p2pd.conf
