# Build, install and test svcmgr. The README's two commands are
# `bash scripts/demo.sh` and `bash scripts/test.sh`; these targets wrap them.
PREFIX ?= /usr
DESTDIR ?=
BINDIR := $(DESTDIR)$(PREFIX)/bin

.PHONY: build install uninstall test demo bench

build:
	cargo build --release --locked

# The binary, the nodemgr/svcmon links, and the FHS directories.
install: build
	install -d $(BINDIR)
	install -m 755 target/release/svcmgr $(BINDIR)/svcmgr
	ln -sf svcmgr $(BINDIR)/nodemgr
	ln -sf svcmgr $(BINDIR)/svcmon
	install -d -m 755 $(DESTDIR)/etc/opensvc
	install -d -m 755 $(DESTDIR)/var/lib/opensvc $(DESTDIR)/var/lib/opensvc/lock
	install -d -m 755 $(DESTDIR)/var/log/opensvc
	install -d -m 755 $(DESTDIR)/var/tmp/opensvc

uninstall:
	rm -f $(BINDIR)/svcmgr $(BINDIR)/nodemgr $(BINDIR)/svcmon

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

bench:
	bash scripts/bench.sh
