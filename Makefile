# Build, install and test svcmgr. The README's two commands are
# `bash scripts/demo.sh` and `bash scripts/test.sh`; these targets wrap them.
PREFIX ?= /usr
DESTDIR ?=
BINDIR := $(DESTDIR)$(PREFIX)/bin
DOCDIR := $(DESTDIR)$(PREFIX)/share/doc/svcmgr

.PHONY: build install uninstall deb test demo bench

build:
	cargo build --release --locked

# The binary, the nodemgr/svcmon links, the FHS directories, the systemd
# units and the config-replication timer (not enabled: the package enables
# it), /etc/profile.d/opensvc.sh (service names as commands), and the docs
# and examples under $(DOCDIR), where the units' Documentation= points. The
# cron file is an example there, not in /etc/cron.d: cron and the timer
# must not both run.
install: build
	install -d $(BINDIR)
	install -m 755 target/release/svcmgr $(BINDIR)/svcmgr
	ln -sf svcmgr $(BINDIR)/nodemgr
	ln -sf svcmgr $(BINDIR)/svcmon
	install -d -m 755 $(DESTDIR)/etc/opensvc
	install -d -m 755 $(DESTDIR)/var/lib/opensvc $(DESTDIR)/var/lib/opensvc/lock
	install -d -m 755 $(DESTDIR)/var/log/opensvc
	install -d -m 755 $(DESTDIR)/var/tmp/opensvc
	install -D -m 644 packaging/svcmgr-sync.service $(DESTDIR)/lib/systemd/system/svcmgr-sync.service
	install -D -m 644 packaging/svcmgr-sync.timer $(DESTDIR)/lib/systemd/system/svcmgr-sync.timer
	install -D -m 644 packaging/opensvc-agent.service $(DESTDIR)/lib/systemd/system/opensvc-agent.service
	install -D -m 644 packaging/opensvc.sh $(DESTDIR)/etc/profile.d/opensvc.sh
	install -d -m 755 $(DOCDIR)/docs $(DOCDIR)/examples
	install -m 644 README.md LICENSE $(DOCDIR)/
	install -m 644 docs/*.md $(DOCDIR)/docs/
	install -m 644 examples/*.conf examples/README.md $(DOCDIR)/examples/
	install -m 755 demo/weblauncher $(DOCDIR)/examples/weblauncher
	install -m 644 packaging/svcmgr.cron $(DOCDIR)/examples/svcmgr.cron

uninstall:
	rm -f $(BINDIR)/svcmgr $(BINDIR)/nodemgr $(BINDIR)/svcmon
	rm -f $(DESTDIR)/etc/cron.d/svcmgr $(DESTDIR)/etc/profile.d/opensvc.sh
	rm -rf $(DOCDIR)
	rm -f $(DESTDIR)/lib/systemd/system/svcmgr-sync.service $(DESTDIR)/lib/systemd/system/svcmgr-sync.timer
	rm -f $(DESTDIR)/lib/systemd/system/opensvc-agent.service

# A Debian package of what `make install` installs (dpkg-deb only):
# target/debian/svcmgr_<version>_<arch>.deb.
deb: build
	bash packaging/deb/build.sh

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

bench:
	bash scripts/bench.sh
