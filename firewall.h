/*
 * socks.conf, the firewall: read once per client, parsed once into rules,
 * then asked about each address.  Pure apart from conf_open/conf_read.
 * SPDX-License-Identifier: ISC
 */
#ifndef FIREWALL_H
#define FIREWALL_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "text.h"

#define CONF_KIB	64
#define CONF_MAX	(CONF_KIB * 1024)	/* socks.conf, read whole */
#define CONF_LINE_MAX	511	/* bytes of a line, without its newline */
#define RULES_MAX	(CONF_MAX / 8)	/* more than CONF_MAX bytes hold */

/*
 * One address pattern: family 0 matches any destination, PATTERN_NAME
 * only a request that names a host (the rule says which names).
 */
#define PATTERN_NAME	(-1)
struct pattern {
	int		 family;
	uint8_t		 addr[16], mask[16];
};

struct rule {
	unsigned char	 permit;
	unsigned char	 cmds;		/* 1 << SOCKS_CONNECT | ... */
	uint16_t	 port_lo, port_hi;
	int		 line;
	struct pattern	 dst, src;
	uint32_t	 users_off;	/* "user NAME,...": where in the text */
	uint16_t	 users_len;	/* 0: any client, logged in or not */
	uint8_t		 name_len;	/* a name pattern, without its dots */
	uint8_t		 name_suffix;	/* ".example.com": names under it too */
	uint32_t	 name_off;	/* where in the text */
};

struct ruleset {
	const char	*path;
	const char	*text;		/* what was parsed: user lists */
	int		 n;
	struct rule	*rule;		/* RULES_MAX of room */
};

/*
 * socks.conf's text and, right behind it, its rules, in one buffer: a
 * short file and its rules share a page, and each page a session touches
 * costs it a fault and 4 KiB.
 */
struct conf_space {
	struct rule	 room[(CONF_MAX + 1) / sizeof(struct rule) + 1 +
			      RULES_MAX];
};

/*
 * What the rules are asked: a command by a client (its address, and its
 * login if it logged in) to a destination, by address or by name.
 */
struct query {
	int		 cmd;
	const struct sockaddr_storage *dst;	/* port too */
	const char	*name;		/* the host the request named, or
					   NULL */
	const struct sockaddr_storage *src;
	const char	*user;		/* a SOCKS5 or HTTP login, NULL,
					   or conf_any_login */
};

/* A malformed line: where, and why. */
struct conf_error {
	int		 line;
	int		 field;		/* the bad field's offset in the
					   text, or -1: the whole line */
	const char	*why;
};

int	conf_open(const char *, struct text *);
int	conf_read(int, const char *, char *, size_t *, struct text *);
char	*conf_text(struct conf_space *);
void	conf_rules_after(struct conf_space *, size_t, struct ruleset *);
int	conf_parse(const char *, size_t, struct ruleset *, struct conf_error *,
	    int);
void	conf_error_text(const struct ruleset *, const struct conf_error *,
	    struct text *);
extern const char conf_any_login[];

int	conf_decide(const struct ruleset *, const struct query *,
	    struct text *);
int	conf_may(const struct ruleset *, const struct query *, int *);
int	conf_may_name(const struct ruleset *, const struct query *, uint16_t,
	    struct text *);
int	conf_has_sources(const struct ruleset *);
int	conf_users_line(const struct ruleset *);
int	conf_port_bounds(const struct ruleset *, uint16_t *, int);

#endif
