/*
 * Where socks4d's log goes (stderr, syslog or the journal) and what it
 * writes there: free-form lines, the request record, the end line.
 * SPDX-License-Identifier: ISC
 */
#ifndef LOG_H
#define LOG_H

#include <sys/socket.h>
#include <stddef.h>

/*
 * A request's facts for the record and the end line, typed: log.c alone
 * turns them into text.
 */
struct record {
	const struct sockaddr_storage *src;	/* the client, port too */
	const struct sockaddr_storage *via;	/* the balancer whose PROXY
						   header named it, or NULL */
	const struct sockaddr_storage *dst;	/* NULL: no request named one */
	const char	*name;			/* a name to resolve, or "" */
	const char	*user;			/* USERID or login, raw */
	int		 version;		/* 4, 5 or REQUEST_HTTP; 0
						   before a request */
	const char	*login;			/* SOCKS5: the user logged in,
						   or NULL */
	int		 command;		/* SOCKS_CONNECT...; 0: none */
	int		 granted;		/* the last reply said yes */
	const char	*reason;		/* not granted: why, raw */
	unsigned	 bound_port;		/* BIND: ours, or 0 */
	const struct sockaddr_storage *peer;	/* BIND: who connected, or
						   NULL */
	const unsigned char *content;		/* the first relayed bytes */
	size_t		 content_len;
	unsigned long long sent, received;	/* to and from the client */
};

#define JOURNAL_ENTRY_MAX	6144	/* bytes of the longest entry sent */

int	same_file(int, int);
int	journal_connect(int);
int	log_is_journal(void);
void	log_journal_via(int);
void	log_choose(int, int);
void	log_choose_listener(int);
void	log_leave_listener(void);
void	log_line(int, const char *);
void	logmsg(int, const char *, ...) __attribute__((format(printf, 2, 3)));
void	log_record(const struct record *);
void	log_end(const struct record *, const char *, unsigned long long);
int	log_holds_record(void);
void	log_record_end(const struct record *, const char *, unsigned long long);

#endif
