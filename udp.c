/*
 * udp.c - UDP ASSOCIATE: a UDP socket for the client beside its TCP
 * connection, relaying datagrams both ways until that connection closes
 * (or the idle deadline passes).  Every datagram from the client is
 * checked: its source, whole (FRAG 0), and a destination socks.conf's u
 * rules permit; from outside, only destinations the client sent to.
 * Datagrams move in batches, judged one by one.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "session.h"
#include "socks.h"
#include "socks5.h"
#include "text.h"

#define DATAGRAM_MAX	65535	/* a UDP payload, at most */
#define PEERS_MAX	16	/* destinations a UDP association hears from */
#define NAMES_MAX	8	/* names an association resolves, once each */

/* A UDP association: the client's side, the way out, what it remembers. */
struct association {
	int		 client_fd;		/* where the client's datagrams
						   come */
	int		 out_fd[2];		/* IPv4 and IPv6 out, opened
						   when needed */
	struct sockaddr_storage client;		/* the client's UDP address */
	int		 client_known;
	struct sockaddr_storage peers[PEERS_MAX];	/* whom it may hear */
	int		 n_peers, next_peer;
	struct {
		char			 name[FIELD_MAX + 1];
		struct sockaddr_storage	 addr;	/* AF_UNSPEC: did not
						   resolve */
	}		 names[NAMES_MAX];
	int		 n_names;
};

/*
 * A name in a client's datagram, resolved once per association (within
 * the connect deadline, as a CONNECT's would be) and remembered, failures
 * too: 0, -1 when it does not resolve, -2 when the lookup took too long.
 */
static int
udp_resolve(struct session *s, struct association *a, const char *name,
    struct sockaddr_storage *out)
{
	int i;

	for (i = 0; i < a->n_names; i++)
		if (strcmp(a->names[i].name, name) == 0)
			break;
	if (i == a->n_names) {
		if (i == NAMES_MAX)
			i = --a->n_names;	/* the last one makes room */
		memcpy(a->names[i].name, name, strlen(name) + 1);
		memset(&a->names[i].addr, 0, sizeof a->names[i].addr);
		if (lookup_within(name, 0, &a->names[i].addr, 1, now_ms() +
		    s->opt->connect_timeout * 1000LL) == -1)
			return -2;
		a->n_names++;
	}
	*out = a->names[i].addr;
	return out->ss_family == AF_UNSPEC ? -1 : 0;
}

static int
is_peer(const struct association *a, const struct sockaddr_storage *from)
{
	for (int i = 0; i < a->n_peers; i++)
		if (same_host(&a->peers[i], from) &&
		    port_of(&a->peers[i]) == port_of(from))
			return 1;
	return 0;
}

static void
remember_peer(struct association *a, const struct sockaddr_storage *dst)
{
	if (is_peer(a, dst))
		return;
	if (a->n_peers < PEERS_MAX)
		a->n_peers++;
	a->peers[a->next_peer] = *dst;
	a->next_peer = (a->next_peer + 1) % PEERS_MAX;
}

/*
 * Where a client's datagram goes, if it may: 0, -1 to drop it, -2 when a
 * name's lookup took too long (the association ends).
 */
static int
udp_destination(struct session *s, struct association *a,
    const struct socks5_udp *u, struct sockaddr_storage *dst)
{
	char ignored[REASON_MAX];
	struct text why = TEXT(ignored);
	int r;

	if (u->dst.atyp == SOCKS5_ATYP_NAME) {
		/* A name the rules deny is not looked up. */
		if (!rules_may_name(s, SOCKS_UDP_ASSOCIATE, u->dst.name,
		    u->dst.port, &why))
			return -1;
		if ((r = udp_resolve(s, a, u->dst.name, dst)) != 0)
			return r;
		set_port(dst, u->dst.port);
	} else
		socks5_sockaddr(&u->dst, dst);
	if (u->dst.port == 0 || is_unspecified(dst) ||
	    !rules_permit(s, SOCKS_UDP_ASSOCIATE, dst,
	    u->dst.atyp == SOCKS5_ATYP_NAME ? u->dst.name : NULL, &why))
		return -1;
	return 0;
}

/*
 * Datagrams move in batches: one recvmmsg() takes what a socket holds, up
 * to BATCH, and a sendmmsg() per socket sends what may go, a run of
 * datagrams to one address as one message the kernel cuts (UDP_SEGMENT):
 * the stack is crossed once a run, not once a datagram.  (musl's
 * sendmmsg() on 64-bit is a sendmsg() per message: runs are what make
 * sending cheap.)  A datagram's first SLOT_DATA bytes land in its slot,
 * packed 2 KiB apart, and only a bigger one's rest in its spill; pages
 * are committed as they are first written, so a full batch of 512-byte
 * datagrams costs BATCH * 2 KiB, not BATCH * 64 KiB, and an association
 * that never sees one costs nothing.  Measured before runs (CPU per
 * datagram, loopback): 16, 32 and 64 alike; 32 keeps a full batch at
 * 64 KiB, and runs long.
 */
#define BATCH		32
#define SLOT_SIZE	2048
#define SLOT_DATA	(SLOT_SIZE - SOCKS5_REPLY_MAX)
#define RUN_MAX		64	/* datagrams in one message (UDP_SEGMENT) */
#define RUN_BYTES_MAX	60000	/* and their bytes, under an IP packet's */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT	-1	/* not Linux: no runs */
#endif

/* A datagram's place: room for the SOCKS5 header an answer gets, then it. */
struct slot {
	uint8_t		 room[SOCKS5_REPLY_MAX];
	uint8_t		 data[SLOT_DATA];
};

/* What a batch knows of each datagram in it, beside the bytes. */
struct datagram {
	struct iovec	 out_iov[2];		/* what is sent on */
	struct msghdr	 out;
	struct sockaddr_storage from, to;
	size_t		 payload;		/* bytes it counts for */
	int		 way;			/* its way out (0: IPv4, 1:
						   IPv6), or -1: dropped */
	int		 sent;
};

/* A message sent: a run of datagrams (order[first...]). */
struct run {
	int		 first, n;		/* n datagrams: a spilled one
						   is one in two iovecs */
	int		 joinable;		/* its first was whole in its
						   slot, and not empty */
	size_t		 size, bytes;		/* each datagram's but the
						   last's, and all */
	union {
		struct cmsghdr	 align;
		char		 buf[CMSG_SPACE(sizeof(uint16_t))];
	}		 control;
};

/*
 * One batch: what recvmmsg() takes first, together (it is set up whole
 * each time: a single datagram touches only these pages), then the rest.
 */
struct batch {
	struct mmsghdr	 in[BATCH];
	struct iovec	 in_iov[BATCH][2];	/* each slot's data, its
						   spill */
	struct mmsghdr	 out[BATCH];
	struct run	 run[BATCH];		/* out[j]'s */
	int		 order[BATCH];		/* the datagrams, as sent */
	struct iovec	 gathered[BATCH];	/* their bytes, as sent */
	struct datagram	 d[BATCH];
};

/*
 * All of it, mapped when an association is granted: a session that never
 * relays a datagram has none of it in its address space, and an idle
 * association gives back exactly its pages (give_back() rounds up to a
 * page, which in the program's own data would reach its neighbours).
 */
struct buffers {
	struct slot	 slots[BATCH];
	uint8_t		 spill[BATCH][DATAGRAM_MAX - SLOT_DATA];
	struct batch	 b;
};
static struct buffers *mapped;
static struct slot *slots;
static uint8_t (*spill)[DATAGRAM_MAX - SLOT_DATA];
static struct batch *b;
/*
 * Whether the kernel cuts runs (Linux 4.18 on): an older one ignores the
 * UDP_SEGMENT message, and would send a run as one datagram.
 */
static int kernel_cuts_runs;

/* The buffers mapped: 0, or -1 with errno. */
static int
buffers_map(void)
{
	mapped = mmap(NULL, sizeof *mapped, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mapped == MAP_FAILED)
		return -1;
	slots = mapped->slots;
	spill = mapped->spill;
	b = &mapped->b;
	return 0;
}

/*
 * The buffers' pages to the kernel, when the association has gone quiet:
 * a burst once relayed need not stay with it for hours (a full batch of
 * small datagrams is 64 KiB of slots and 20 KiB of the rest).
 */
static void
batch_give_back(void)
{
	give_back(mapped, sizeof *mapped);
}

/* Take what FD holds, up to BATCH datagrams: how many (0 when none). */
static int
batch_receive(int fd)
{
	int k, n;

	for (k = 0; k < BATCH; k++) {
		b->in_iov[k][0] = (struct iovec){ slots[k].data, SLOT_DATA };
		b->in_iov[k][1] = (struct iovec){ spill[k], sizeof spill[k] };
		memset(&b->in[k], 0, sizeof b->in[k]);
		b->in[k].msg_hdr.msg_name = &b->d[k].from;
		b->in[k].msg_hdr.msg_namelen = sizeof b->d[k].from;
		b->in[k].msg_hdr.msg_iov = b->in_iov[k];
		b->in[k].msg_hdr.msg_iovlen = 2;
	}
	n = recvmmsg(fd, b->in, BATCH, MSG_DONTWAIT, NULL);
	return n > 0 ? n : 0;
}

/*
 * Datagram K's message on to TO: its bytes from START (in its slot) to
 * its end, the slot's part and the spill's if any.
 */
static void
batch_address(int k, const uint8_t *start, struct sockaddr_storage *to)
{
	struct datagram *d = &b->d[k];
	size_t n = b->in[k].msg_len, in_slot = n < SLOT_DATA ? n : SLOT_DATA;

	d->out_iov[0] = (struct iovec){ (void *)start,
	    (size_t)(slots[k].data + in_slot - start) };
	d->out_iov[1] = (struct iovec){ spill[k], n - in_slot };
	memset(&d->out, 0, sizeof d->out);
	d->out.msg_name = to;
	d->out.msg_namelen = addr_len(to);
	d->out.msg_iov = d->out_iov;
	d->out.msg_iovlen = n > SLOT_DATA ? 2 : 1;
}

/*
 * Whether datagram K may join message J, a run of datagrams to one
 * address sent as one (UDP_SEGMENT cuts it into datagrams of the first's
 * size): the same address, each whole in its slot and not empty (an empty
 * one would vanish in the cut), each as long as the first but the last,
 * which may be shorter.
 */
static int
joins_run(int j, int k)
{
	const struct msghdr *run = &b->out[j].msg_hdr, *m = &b->d[k].out;
	size_t size = b->run[j].size, last = run->msg_iov[
	    run->msg_iovlen - 1].iov_len, len = m->msg_iov[0].iov_len;

	return kernel_cuts_runs && b->run[j].joinable && m->msg_iovlen == 1 &&
	    len > 0 && len <= size && last == size &&
	    b->run[j].n < RUN_MAX && b->run[j].bytes + len <= RUN_BYTES_MAX &&
	    same_host(run->msg_name, m->msg_name) &&
	    port_of(run->msg_name) == port_of(m->msg_name);
}

/* Datagram K (the Ith sent) as message J of its own. */
static void
run_start(int j, int i, int k)
{
	b->out[j].msg_hdr = b->d[k].out;
	b->run[j] = (struct run){ .first = i, .n = 1,
	    .size = b->d[k].out_iov[0].iov_len,
	    .bytes = b->d[k].out_iov[0].iov_len };
	b->run[j].joinable = b->d[k].out.msg_iovlen == 1 && b->run[j].size > 0;
	if (b->run[j].joinable) {
		b->gathered[i] = b->d[k].out_iov[0];
		b->out[j].msg_hdr.msg_iov = &b->gathered[i];
	}
}

/* Datagram K (the Ith sent) at the end of message J; its size set. */
static void
run_extend(int j, int i, int k)
{
	struct msghdr *m = &b->out[j].msg_hdr;
	struct cmsghdr *c;

	b->gathered[i] = b->d[k].out_iov[0];
	b->run[j].bytes += b->gathered[i].iov_len;
	b->run[j].n++;
	if (m->msg_iovlen++ == 1) {
		m->msg_control = b->run[j].control.buf;
		m->msg_controllen = sizeof b->run[j].control.buf;
		c = CMSG_FIRSTHDR(m);
		c->cmsg_level = IPPROTO_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(c), &(uint16_t){ (uint16_t)b->run[j].size },
		    sizeof(uint16_t));
	}
}

/*
 * Send messages out[0..n) on FD; each datagram is tried once as sendto()
 * would try it, and one that fails is dropped alone: a sendmmsg() stops
 * at the first message that fails, and a run that fails (a path that will
 * not take UDP_SEGMENT) is tried again datagram by datagram.
 */
static void
batch_send_runs(int fd, int n)
{
	int j = 0, r, i;

	while (j < n) {
		if ((r = sendmmsg(fd, b->out + j, (unsigned)(n - j), 0)) < 0)
			r = 0;
		for (; r > 0; r--, j++)
			for (i = 0; i < b->run[j].n; i++)
				b->d[b->order[b->run[j].first + i]].sent = 1;
		if (j == n)
			break;
		if (b->run[j].n == 1)
			b->d[b->order[b->run[j].first]].sent = 0;
		else
			for (i = 0; i < b->run[j].n; i++) {
				struct datagram *d =
				    &b->d[b->order[b->run[j].first + i]];
				d->sent = sendmsg(fd, &d->out, 0) != -1;
			}
		j++;
	}
}

/*
 * Send those of the first N datagrams whose way out is WAY on FD, runs
 * to one address as one message each.
 */
static void
batch_send(int fd, int way, int n)
{
	int i = 0, j = -1;

	for (int k = 0; k < n; k++) {
		if (b->d[k].way != way)
			continue;
		b->order[i] = k;
		if (j >= 0 && joins_run(j, k))
			run_extend(j, i, k);
		else
			run_start(++j, i, k);
		i++;
	}
	if (j >= 0)
		batch_send_runs(fd, j + 1);
}

/*
 * Datagram K from the client's side, checked: only from the client's
 * address (and the port its request named, if it named one), whole, to a
 * destination the rules permit.  Its way out (0 or 1) when it may go, -1
 * to drop it, -2 when a lookup took too long.
 */
static int
client_datagram_way(struct session *s, struct association *a, int k)
{
	struct datagram *d = &b->d[k];
	uint8_t *buf = slots[k].data;
	size_t n = b->in[k].msg_len, in_slot = n < SLOT_DATA ? n : SLOT_DATA;
	struct socks5_udp u;
	const char *malformed;
	int *fd, r;

	/* A header is at most 262 bytes: whole in the slot. */
	if (!same_host(&d->from, &s->src) ||
	    (s->req.port != 0 && port_of(&d->from) != s->req.port) ||
	    (a->client_known && port_of(&d->from) != port_of(&a->client)) ||
	    socks5_parse_udp(buf, in_slot, &u, &malformed) != 1 ||
	    u.frag != 0)
		return -1;
	if ((r = udp_destination(s, a, &u, &d->to)) != 0)
		return r;
	fd = &a->out_fd[d->to.ss_family == AF_INET6];
	if (*fd == -1 && (*fd = socket(d->to.ss_family,
	    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	a->client = d->from;
	a->client_known = 1;
	record_first_bytes(s, buf + u.len, in_slot - u.len, 0);
	batch_address(k, buf + u.len, &d->to);
	d->payload = n - u.len;
	return d->to.ss_family == AF_INET6;
}

/*
 * What the client's side holds, a batch: each datagram checked in turn,
 * as it comes, then those that may go sent, a sendmmsg() per way out.  1
 * if any was relayed, 0 if none, -1 when a lookup took too long (those
 * before it are sent; it and those after are not counted).
 */
static int
udp_from_client(struct session *s, struct association *a)
{
	int k, n = batch_receive(a->client_fd), r = 0, relayed = 0;

	for (k = 0; k < n; k++) {
		if ((r = client_datagram_way(s, a, k)) == -2)
			break;
		b->d[k].way = r;
	}
	n = k;
	for (int way = 0; way < 2; way++)
		batch_send(a->out_fd[way], way, n);
	for (k = 0; k < n; k++) {
		if (b->d[k].way == -1 || !b->d[k].sent) {
			s->datagrams_dropped++;
			continue;
		}
		remember_peer(a, &b->d[k].to);
		s->datagrams_received++;
		s->received += b->d[k].payload;
		relayed = 1;
	}
	return r == -2 ? -1 : relayed;
}

/*
 * What one way out holds, a batch: each datagram only from a destination
 * the client sent to, sent on to the client in the SOCKS5 header that
 * says whence.  1 if any was relayed.
 */
static int
udp_from_peer(struct session *s, struct association *a, int fd)
{
	uint8_t header[SOCKS5_REPLY_MAX], *data;
	int k, n = batch_receive(fd), relayed = 0;
	size_t h;

	for (k = 0; k < n; k++) {
		b->d[k].way = -1;
		if (!a->client_known || !is_peer(a, &b->d[k].from))
			continue;
		h = socks5_udp_header(header,
		    (struct sockaddr *)&b->d[k].from);
		data = slots[k].data;
		memcpy(data - h, header, h);
		batch_address(k, data - h, &a->client);
		b->d[k].payload = b->in[k].msg_len;
		b->d[k].way = 0;
	}
	batch_send(a->client_fd, 0, n);
	for (k = 0; k < n; k++) {
		if (b->d[k].way == -1 || !b->d[k].sent) {
			s->datagrams_dropped++;
			continue;
		}
		s->datagrams_sent++;
		s->sent += b->d[k].payload;
		relayed = 1;
	}
	return relayed;
}

/* The relay's socket near the client, and the reply that says where. */
static void
grant_association(struct session *s, struct association *a)
{
	char err[64];
	struct text why = TEXT(err);
	struct sockaddr_storage bound;

	require_rule_for(s, SOCKS_UDP_ASSOCIATE);
	if (buffers_map() == -1)
		reject(s, SOCKS5_GENERAL_FAILURE, "UDP buffers: ",
		    strerror(errno));
	if ((a->client_fd = socket_near(s, SOCK_DGRAM, &bound, &why)) == -1)
		reject(s, SOCKS5_GENERAL_FAILURE, "UDP socket: ", err);
	/* Off (0) as it was; refused by a kernel that knows no runs. */
	kernel_cuts_runs = setsockopt(a->client_fd, IPPROTO_UDP, UDP_SEGMENT,
	    &(int){ 0 }, sizeof(int)) == 0;
	s->bound_port = port_of(&bound);
	reply_bound(s, &bound);
	s->phase = PHASE_GRANTED;
}

/*
 * Relay until the TCP connection closes.  What the client sends on it
 * meanwhile is read and dropped.  Idle counts ticks without a datagram
 * relayed: dropped ones keep nothing alive.
 */
enum end
do_udp(struct session *s)
{
	struct association a = { .out_fd = { -1, -1 } };
	struct pollfd p[5];
	ssize_t n;
	int i, r, sig, quiet = 0;
	enum end end;

	grant_association(s, &a);
	sig = signals_open(tick_ms(s));
	for (;;) {
		p[0] = (struct pollfd){ .fd = s->in, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = a.client_fd, .events = POLLIN };
		for (i = 0; i < 2; i++)
			p[2 + i] = (struct pollfd){ .fd = a.out_fd[i],
			    .events = POLLIN };
		p[4] = (struct pollfd){ .fd = sig, .events = POLLIN };
		n = poll(p, 5, -1);
		if (n == -1 && errno != EINTR)
			return END_POLL_FAILED;
		if (n == -1)
			continue;
		if (p[4].revents && heard_ends(s, sig, &quiet, &end))
			return end;
		if (p[4].revents && quiet == 1)	/* a first quiet tick */
			batch_give_back();
		if (p[0].revents) {
			/* Read into the slots: no datagram is in them. */
			n = read(s->in, slots, sizeof mapped->slots);
			if (n == 0)
				return END_CLOSED;
			if (n == -1 && errno != EINTR && errno != EAGAIN) {
				s->end_errno = errno;
				return END_CLIENT_FAILED;
			}
		}
		if (p[1].revents && (r = udp_from_client(s, &a)) != 0) {
			if (r == -1) {
				s->end_errno = ETIMEDOUT;
				return END_DEST_FAILED;
			}
			quiet = -1;	/* this tick's interval was not quiet */
		}
		for (i = 0; i < 2; i++)
			if (p[2 + i].revents &&
			    udp_from_peer(s, &a, a.out_fd[i]))
				quiet = -1;
	}
}
