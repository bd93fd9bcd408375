# Build, install and test svcmgr. The README's two commands are
# `bash scripts/demo.sh` and `bash scripts/test.sh`; these targets wrap them.
PREFIX ?= /usr
DESTDIR ?=
BINDIR := $(DESTDIR)$(PREFIX)/bin

.PHONY: build install uninstall test demo bench

build:
	cargo build --release --locked

# The binary, the nodemgr/svcmon links, the FHS directories, and the
# config-replication schedule (a cron file and an equivalent systemd timer,
# not enabled: pick one).
install: build
	install -d $(BINDIR)
	install -m 755 target/release/svcmgr $(BINDIR)/svcmgr
	ln -sf svcmgr $(BINDIR)/nodemgr
	ln -sf svcmgr $(BINDIR)/svcmon
	install -d -m 755 $(DESTDIR)/etc/opensvc
	install -d -m 755 $(DESTDIR)/var/lib/opensvc $(DESTDIR)/var/lib/opensvc/lock
	install -d -m 755 $(DESTDIR)/var/log/opensvc
	install -d -m 755 $(DESTDIR)/var/tmp/opensvc
	install -D -m 644 packaging/svcmgr.cron $(DESTDIR)/etc/cron.d/svcmgr
	install -D -m 644 packaging/svcmgr-sync.service $(DESTDIR)/lib/systemd/system/svcmgr-sync.service
	install -D -m 644 packaging/svcmgr-sync.timer $(DESTDIR)/lib/systemd/system/svcmgr-sync.timer
	install -D -m 644 packaging/opensvc-agent.service $(DESTDIR)/lib/systemd/system/opensvc-agent.service

uninstall:
	rm -f $(BINDIR)/svcmgr $(BINDIR)/nodemgr $(BINDIR)/svcmon
	rm -f $(DESTDIR)/etc/cron.d/svcmgr
	rm -f $(DESTDIR)/lib/systemd/system/svcmgr-sync.service $(DESTDIR)/lib/systemd/system/svcmgr-sync.timer
	rm -f $(DESTDIR)/lib/systemd/system/opensvc-agent.service

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

bench:
	bash scripts/bench.sh
