# debian/: the packaging, shipped so that a release tarball builds .debs too
# (tests/integration/debian-package.sh).
EXTRA_DIST += debian/control debian/rules debian/changelog debian/copyright \
	debian/source/format debian/p2pd.install debian/p2pctl.install \
	debian/p2p-signald.install debian/p2p-signald.examples
