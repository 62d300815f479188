# socks4d: a SOCKS4, SOCKS4a and SOCKS5 proxy, one process per client, and
# hw4.cgi.
# SPDX-License-Identifier: ISC
PROG	 = socks4d
PREFIX	?= /usr/local
sbindir	?= $(PREFIX)/sbin
sysconfdir ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
mandir	?= $(PREFIX)/share/man
# Units: PREFIX=/usr (a package) puts them where systemd's pkg-config file
# says; any other PREFIX under it, where systemd looks for local units
# (/usr/local/lib/systemd/system), out of a package's way.
unitdir	?= $(if $(filter /usr,$(PREFIX)),$(shell pkg-config \
	   --variable=systemdsystemunitdir systemd 2>/dev/null || \
	   echo /lib/systemd/system),$(PREFIX)/lib/systemd/system)

CFLAGS	?= -O2 -g
CFLAGS	+= -std=c99 -Wall -Wextra -Werror
CPPFLAGS += -DSOCKS_CONF='"$(sysconfdir)/socks.conf"' \
	    -DSOCKS_PASSWD='"$(sysconfdir)/socks.passwd"'
# main (socks4d.c); the phases of a session and what they call, one file
# a job (HACKING.md maps them); the pure, fuzzed parsers; listener mode.
# The sources but socks4d.c are linked into the fuzzers.
SESSION	 = handshake.c login.c rules.c resolve.c sockets.c connect.c bind.c \
	   udp.c relay.c signals.c review.c reply.c record.c finish.c \
	   check.c wait.c proxied.c
PURE	 = addr.c firewall.c socks4.c socks5.c text.c number.c lines.c \
	   users.c sha512crypt.c proxy_header.c http_connect.c
SRCS	 = socks4d.c $(SESSION) $(PURE) log.c listener.c caps.c turnaway.c \
	   journal_fwd.c activation.c
HDRS	 = session.h addr.h clock.h exits.h firewall.h log.h request.h \
	   socks.h socks4.h socks5.h text.h number.h lines.h users.h \
	   sha512crypt.h proxy_header.h http_connect.h \
	   listener.h caps.h turnaway.h journal_fwd.h activation.h
FUZZ_SRCS = $(filter-out socks4d.c,$(SRCS))
# An exec per client is most of what a short session costs: where musl-gcc
# is installed, socks4d is linked statically against musl, which starts in
# a ninth of the time of a dynamic glibc build (exec to exit of socks4d -V,
# timed by hand: 0.12 ms against 1.1 ms on a 2-core VM).
# STATIC_CC= builds with $(CC) alone.
STATIC_CC ?= musl-gcc
# SHA-512 crypt is built in; with glibc, crypt(3) checks other hashes too
# (Debian's musl has no crypt(3)).
CRYPT	 = -DHAVE_CRYPT
CRYPT_LIBS = -lcrypt
SANFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=all

-include config.mak

.PHONY: all test run demo install uninstall clean deps test-deps fuzz bench \
	FORCE

all: $(PROG)
	$(MAKE) -C hw4cgi

# How socks4d is built (the compiler on the first line, then the flags,
# then the libraries),
# decided when this recipe runs rather than when make starts, so that
# `make deps all` builds with the musl-gcc that deps has just installed.
# The file changes only when the choice does, and then socks4d is rebuilt.
BUILD_CMD = .$(PROG).cmd
$(BUILD_CMD): FORCE | $(filter deps test-deps,$(MAKECMDGOALS))
	@{ if [ -n "$(STATIC_CC)" ] && \
	    command -v $(STATIC_CC) >/dev/null 2>&1; \
	  then echo "$(STATIC_CC) -static"; else echo "$(CC) $(CRYPT)"; fi; \
	  echo $(CPPFLAGS) $(CFLAGS) $(LDFLAGS); \
	  if [ -n "$(STATIC_CC)" ] && \
	    command -v $(STATIC_CC) >/dev/null 2>&1; \
	  then echo; else echo "$(CRYPT_LIBS)"; fi; } > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

$(PROG): $(SRCS) $(HDRS) $(BUILD_CMD)
	@cc=$$(sed 1q $(BUILD_CMD)) && libs=$$(sed -n 3p $(BUILD_CMD)) && \
	  echo $$cc $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS) $$libs && \
	  $$cc $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS) $$libs

# The same program built with ASan and UBSan; the suite runs it too.
$(PROG)-san: $(SRCS) $(HDRS)
	$(CC) $(CPPFLAGS) $(CRYPT) $(CFLAGS) $(SANFLAGS) $(LDFLAGS) -o $@ \
	  $(SRCS) $(CRYPT_LIBS)

# Every suite, then the ones that feed socks4d the most hostile input again
# against the sanitizer build (load.bats is too slow under ASan).
test: all $(PROG)-san
	bats test/
	SOCKS4D=$(CURDIR)/$(PROG)-san bats test/connect.bats \
	  test/requests.bats test/hostile.bats test/hostile5.bats \
	  test/faults.bats test/bind.bats test/listener.bats test/loops.bats \
	  test/trust.bats test/proxy.bats test/eyeballs.bats test/nat.bats \
	  test/names.bats test/hostile_http.bats test/http.bats

# libFuzzer targets for the request, socks.conf, SOCKS5, users-file, PROXY
# header and HTTP CONNECT parsers and hw4.cgi's escaper, ASan+UBSan.
FUZZ_SECONDS ?= 60
FUZZERS = fuzz/fuzz_request fuzz/fuzz_conf fuzz/fuzz_socks5 fuzz/fuzz_users \
	  fuzz/fuzz_escape fuzz/fuzz_proxy fuzz/fuzz_http
FUZZ_CC	 = clang $(CPPFLAGS) -g -O1 -std=c99 -Wall -Wextra -Werror \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz/fuzz_%: fuzz/fuzz_%.c $(SRCS) $(HDRS)
	$(FUZZ_CC) -o $@ $< $(FUZZ_SRCS) $(CRYPT_LIBS)
# The escaper is hw4.cgi's own: its file alone.
fuzz/fuzz_escape: fuzz/fuzz_escape.c hw4cgi/escape.c hw4cgi/escape.h
	$(FUZZ_CC) -o $@ $< hw4cgi/escape.c
# New inputs go to a scratch directory; the committed seeds stay as they are.
fuzz: $(FUZZERS)
	for f in $(FUZZERS); do n=$${f#fuzz/fuzz_}; mkdir -p fuzz/work/$$n && \
	  { ./$$f -max_total_time=$(FUZZ_SECONDS) -max_len=1100 \
	      -print_final_stats=1 -artifact_prefix=fuzz/work/ \
	    fuzz/work/$$n fuzz/corpus/$$n > fuzz/work/$$n.log 2>&1 || \
	    { tail -40 fuzz/work/$$n.log; exit 1; }; } && \
	  echo "$$f: $$(grep -h number_of_executed_units \
	    fuzz/work/$$n.log)"; done

# The edit-test loop, in under a minute beside the full `make test`: socks4d
# -t and the firewall, the request tables (good and hostile), 3 s a fuzzer.
.PHONY: check
check: $(PROG)
	bats test/firewall.bats test/requests.bats test/hostile.bats
	$(MAKE) fuzz FUZZ_SECONDS=3

# hw4.cgi under lighttpd, socks4d and five stand-in shells, all on loopback;
# Ctrl-C ends it with status 0 (hw4cgi/Makefile says how).
demo: $(PROG)
	@$(MAKE) --no-print-directory -C hw4cgi demo

# Throughput, session rate, memory and CPU against a direct connection, the
# exec floor and Dante, in one run (about 10 minutes); see bench/bench.sh.
bench: $(PROG)
	FLOOR_CC="$$(sed '1!d; s/ -static$$//' $(BUILD_CMD))" bench/bench.sh

# socks4d in listener mode on $(ADDR):$(PORT) with this directory's
# socks.conf, the records on the terminal.  ADDR= (empty) listens on every
# address.  USERS=FILE: SOCKS5 logins against that users file (-u FILE);
# without it, the first line says whether there is one.
ADDR ?= 127.0.0.1
PORT ?= 1080
LISTEN = $(if $(ADDR),$(if $(findstring :,$(ADDR)),[$(ADDR)],$(ADDR)):)$(PORT)
run: $(PROG)
	@./$(PROG) -c socks.conf -l $(LISTEN) $(if $(USERS),-u '$(USERS)') || \
	{ st=$$?; [ $$st != 111 ] || \
	  echo "make run: cannot listen on $(LISTEN) (see above); if it is" \
	    "in use, pick another port: make run PORT=1081 (or ADDR=...)" >&2; \
	  exit $$st; }

# The paths the installed files name: where this install puts things.
LOCALIZE = sed 's|/usr/local/etc|$(sysconfdir)|; s|/usr/local/sbin|$(sbindir)|'
UNITS	 = socks4d@.service socks4d.socket socks4d-listener.service \
	   socks4d-listener.socket
install: $(PROG)
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(sysconfdir) \
	  $(DESTDIR)$(unitdir) $(DESTDIR)$(mandir)/man5 $(DESTDIR)$(mandir)/man8
	install -m 755 $(PROG) $(DESTDIR)$(sbindir)/$(PROG)
	$(LOCALIZE) socks4d.8 > $(DESTDIR)$(mandir)/man8/socks4d.8
	$(LOCALIZE) socks.conf.5 > $(DESTDIR)$(mandir)/man5/socks.conf.5
	test -e $(DESTDIR)$(sysconfdir)/socks.conf || \
	  install -m 644 socks.conf $(DESTDIR)$(sysconfdir)/socks.conf
	for u in $(UNITS); do \
	  $(LOCALIZE) $$u > $(DESTDIR)$(unitdir)/$$u || exit 1; done
	$(MAKE) -C hw4cgi install

# hw4cgi/Makefile's directory for hw4.cgi, whose parents uninstall prunes.
cgidir	?= $(PREFIX)/lib/cgi-bin/socks4d
# What uninstall never removes, even empty: DESTDIR itself, or, installed
# in place, the directories a system has before any install (Debian's
# base-files makes /usr/local/sbin, /usr/local/share/man and the like).
KEEP_DIRS = $(if $(DESTDIR),$(DESTDIR),$(PREFIX) $(sbindir) $(sysconfdir) \
	$(PREFIX)/share $(mandir) $(PREFIX)/lib)

# Everything install wrote and the directories that are left empty; the
# configuration only if it is still the shipped one; never a file that a
# package owns (installed over this install's, e.g. the package's units
# with PREFIX=/usr): rm-unowned.sh asks dpkg-query (DPKG_QUERY=) first.
export DPKG_QUERY
uninstall:
	@./rm-unowned.sh $(DESTDIR)$(sbindir)/$(PROG) \
	  $(DESTDIR)$(mandir)/man8/socks4d.8 \
	  $(DESTDIR)$(mandir)/man5/socks.conf.5 \
	  $(addprefix $(DESTDIR)$(unitdir)/,$(UNITS))
	@conf=$(DESTDIR)$(sysconfdir)/socks.conf; \
	if cmp -s socks.conf $$conf; then ./rm-unowned.sh $$conf; \
	elif [ -e $$conf ]; then \
	  echo "kept $$conf: edited (not the shipped socks.conf)"; fi
	$(MAKE) -C hw4cgi uninstall
	@for d in $(DESTDIR)$(sbindir) $(DESTDIR)$(sysconfdir) \
	  $(DESTDIR)$(unitdir) $(DESTDIR)$(mandir)/man5 \
	  $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(cgidir); do \
	  while [ -n "$$d" ]; do \
	    case " $(KEEP_DIRS) " in *" $$d "*) break;; esac; \
	    if [ -d "$$d" ]; then rmdir "$$d" 2>/dev/null || break; \
	      echo "rmdir $$d"; fi; \
	    d=$${d%/*}; \
	  done; \
	done

clean:
	rm -rf $(PROG) $(PROG)-san $(BUILD_CMD) $(FUZZERS) fuzz/work
	$(MAKE) -C hw4cgi clean

# What a fresh Debian machine lacks to build and run socks4d (systemd for
# the units; pkg-config for make install's unitdir).
DEBS = gcc make musl-tools pkg-config systemd
# And what the tests, make demo and make bench run: the peers, clients and
# super-servers.  Append to it (TEST_DEBS += pkg) for a new suite's needs.
TEST_DEBS = bats curl socat ucspi-tcp python3 python3-pyftpdlib \
	dante-client dante-server ftp clang libclang-rt-dev lighttpd chromium \
	proxychains4 xinetd haproxy netcat-openbsd procps iproute2 mandoc
# hw4cgi_browser.bats and hw4cgi_servers.bats
TEST_DEBS += chromium-driver python3-selenium apache2 nginx fcgiwrap
# deb.bats
TEST_DEBS += debhelper lintian
# socks5.bats
TEST_DEBS += ncat openssl
# fail2ban.bats
TEST_DEBS += fail2ban python3-systemd
# nat.bats: the router's NAT
TEST_DEBS += nftables
# http.bats: git clone over HTTPS through the HTTP CONNECT tunnel
TEST_DEBS += git
# .ci/install-debs installs what is missing (with sudo unless root) and
# starts no service; for test-deps it also leaves none enabled at boot.
deps:
	@.ci/install-debs $(DEBS)
# openbsd-inetd conflicts with xinetd: superservers.bats runs it unpacked
# from its .deb, fetched here (a test run downloads nothing).
DEBCACHE = $${XDG_CACHE_HOME:-$$HOME/.cache}/socks4d-test
test-deps: deps
	@.ci/install-debs --no-daemons $(TEST_DEBS)
	@ls $(DEBCACHE)/openbsd-inetd_*.deb >/dev/null 2>&1 || \
	  { mkdir -p $(DEBCACHE) && cd $(DEBCACHE) && \
	    apt-get download -q openbsd-inetd; }

# The Debian package (issue 15), built from a copy of this tree, since
# dpkg-buildpackage cleans where it builds: socks4d_VERSION_ARCH.deb lands
# here, for `apt install ./socks4d_*.deb`; the version is debian/changelog's.
.PHONY: deb deb-test
deb:
	debian/build-deb.sh $(if $(shell command -v lintian),-l) .

# Build, install, serve, upgrade and purge it on this machine (root).
deb-test:
	bats test/deb.bats
