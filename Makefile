# socks4d: a SOCKS4/SOCKS4a proxy run by a super-server, and hw4.cgi.
PROG	 = socks4d
PREFIX	?= /usr/local
sbindir	?= $(PREFIX)/sbin
sysconfdir ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
mandir	?= $(PREFIX)/share/man
unitdir	?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)

CFLAGS	?= -O2 -g
CFLAGS	+= -std=c99 -Wall -Wextra -Werror
CPPFLAGS += -DSOCKS_CONF='"$(sysconfdir)/socks.conf"'
# An exec per client is most of what a short session costs: where musl is
# installed, socks4d is linked statically against it, which starts in a
# third of the time of a dynamic glibc build (make bench measures it).
STATIC_CC ?= $(shell command -v musl-gcc 2>/dev/null)
SANFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

-include config.mak

.PHONY: all test run demo install uninstall clean deps fuzz bench

all: $(PROG)
	$(MAKE) -C hw4cgi

# The session, and beside it what is pure and separately tested.
SRCS	= socks4d.c addr.c firewall.c log.c socks4.c text.c listener.c
HDRS	= addr.h firewall.h log.h request.h socks.h socks4.h text.h listener.h

$(PROG): $(SRCS) $(HDRS)
ifneq ($(STATIC_CC),)
	$(STATIC_CC) -static $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS)
else
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS)
endif

# The same program built with ASan and UBSan; the suite runs it too.
$(PROG)-san: $(SRCS) $(HDRS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) $(LDFLAGS) -o $@ $(SRCS)

# Every suite, then the ones that feed socks4d the most hostile input again
# against the sanitizer build (load.bats is too slow under ASan).
test: all $(PROG)-san
	bats test/
	SOCKS4D=$(CURDIR)/$(PROG)-san bats test/connect.bats test/requests.bats \
	  test/hostile.bats test/faults.bats test/bind.bats

# libFuzzer targets for the request and socks.conf parsers, ASan+UBSan.
FUZZ_SECONDS ?= 60
FUZZERS = fuzz/fuzz_request fuzz/fuzz_conf
FUZZ_LINK_request = socks4.c
FUZZ_LINK_conf = firewall.c addr.c text.c
fuzz/fuzz_%: fuzz/fuzz_%.c $(SRCS) $(HDRS)
	clang $(CPPFLAGS) -g -O1 -std=c99 -Wall -Wextra -Werror \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $< $(FUZZ_LINK_$*)
# New inputs go to a scratch directory; the committed seeds stay as they are.
fuzz: $(FUZZERS)
	for f in $(FUZZERS); do n=$${f#fuzz/fuzz_}; mkdir -p fuzz/work/$$n && \
	  { ./$$f -max_total_time=$(FUZZ_SECONDS) -max_len=1100 -print_final_stats=1 -artifact_prefix=fuzz/work/ \
	    fuzz/work/$$n fuzz/corpus/$$n > fuzz/work/$$n.log 2>&1 || \
	    { tail -40 fuzz/work/$$n.log; exit 1; }; } && \
	  echo "$$f: $$(grep -h number_of_executed_units fuzz/work/$$n.log)"; done

# hw4.cgi under lighttpd, socks4d and five stand-in shells, all on loopback.
demo: $(PROG)
	$(MAKE) -C hw4cgi demo

# Throughput, session rate, memory and CPU against a direct connection, the
# exec floor and Dante, in one run (about 5 minutes); see bench/bench.sh.
bench: $(PROG)
	FLOOR_CC="$(or $(STATIC_CC),$(CC))" bench/bench.sh

# socks4d in listener mode on $(ADDR):$(PORT) with this directory's socks.conf,
# the records on the terminal.  ADDR= (empty) listens on every address.
ADDR ?= 127.0.0.1
PORT ?= 1080
LISTEN = $(if $(ADDR),$(if $(findstring :,$(ADDR)),[$(ADDR)],$(ADDR)):)$(PORT)
run: $(PROG)
	@./$(PROG) -c socks.conf -l $(LISTEN) || { st=$$?; [ $$st != 111 ] || \
	  echo "make run: cannot listen on $(LISTEN) (see above); if it is in use, pick another port: make run PORT=1081 (or ADDR=...)" >&2; \
	  exit $$st; }

install: $(PROG)
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(sysconfdir) $(DESTDIR)$(unitdir) \
	  $(DESTDIR)$(mandir)/man5 $(DESTDIR)$(mandir)/man8
	install -m 755 $(PROG) $(DESTDIR)$(sbindir)/$(PROG)
	sed 's|/usr/local/etc|$(sysconfdir)|; s|/usr/local/sbin|$(sbindir)|' socks4d.8 > $(DESTDIR)$(mandir)/man8/socks4d.8
	install -m 644 socks.conf.5 $(DESTDIR)$(mandir)/man5/socks.conf.5
	test -e $(DESTDIR)$(sysconfdir)/socks.conf || install -m 644 socks.conf $(DESTDIR)$(sysconfdir)/socks.conf
	sed 's|/usr/local/sbin|$(sbindir)|; s|/usr/local/etc|$(sysconfdir)|' socks4d@.service > $(DESTDIR)$(unitdir)/socks4d@.service
	install -m 644 socks4d.socket $(DESTDIR)$(unitdir)/socks4d.socket
	sed 's|/usr/local/sbin|$(sbindir)|; s|/usr/local/etc|$(sysconfdir)|' socks4d-listener.service > $(DESTDIR)$(unitdir)/socks4d-listener.service
	install -m 644 socks4d-listener.socket $(DESTDIR)$(unitdir)/socks4d-listener.socket
	$(MAKE) -C hw4cgi install

uninstall:
	rm -f $(DESTDIR)$(sbindir)/$(PROG) $(DESTDIR)$(unitdir)/socks4d@.service \
	  $(DESTDIR)$(unitdir)/socks4d.socket $(DESTDIR)$(mandir)/man8/socks4d.8 \
	  $(DESTDIR)$(mandir)/man5/socks.conf.5
	rm -f $(DESTDIR)$(unitdir)/socks4d-listener.service $(DESTDIR)$(unitdir)/socks4d-listener.socket
	$(MAKE) -C hw4cgi uninstall

clean:
	rm -rf $(PROG) $(PROG)-san $(FUZZERS) fuzz/work
	$(MAKE) -C hw4cgi clean

# What a fresh Debian machine lacks to build, run, test and benchmark.
DEBS = gcc make musl-tools pkg-config systemd bats curl socat ucspi-tcp \
	python3 python3-pyftpdlib dante-client dante-server ftp clang libclang-rt-dev \
	lighttpd chromium proxychains4 xinetd haproxy netcat-openbsd procps iproute2 mandoc
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# openbsd-inetd conflicts with xinetd: the tests run it unpacked from its .deb.
DEBCACHE = $${XDG_CACHE_HOME:-$$HOME/.cache}/socks4d-test
deps:
	dpkg -s $(DEBS) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(DEBS); }
	ls $(DEBCACHE)/openbsd-inetd_*.deb >/dev/null 2>&1 || \
	  { mkdir -p $(DEBCACHE) && cd $(DEBCACHE) && apt-get download -q openbsd-inetd; }
