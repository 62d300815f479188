/*
 * HTTP CONNECT (RFC 9110 section 9.3.6, RFC 9112) on the SOCKS port: the
 * request's parser over "the bytes so far" and the response's builder.
 * Pure: no I/O, no global state.
 * SPDX-License-Identifier: ISC
 */
#ifndef HTTP_CONNECT_H
#define HTTP_CONNECT_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "socks5.h"

#define HTTP_HEAD_MAX	8192	/* request line and headers, in all */
#define HTTP_BODY_MAX	200	/* a response's reason, cut to this */
#define HTTP_RESPONSE_MAX 512	/* any response, its body cut */
#define HTTP_GRANT	"HTTP/1.1 200 Connection established\r\n\r\n"
#define HTTP_GRANT_LEN	(sizeof HTTP_GRANT - 1)

#define HTTP_AUTH_NONE	0
#define HTTP_AUTH_BASIC	1
#define HTTP_AUTH_OTHER	2	/* a scheme not Basic: no login */

/* How far the head has been looked at (http_parse_connect). */
struct http_scan {
	size_t		 at;		/* bytes looked at */
	size_t		 line;		/* where the last line began */
	int		 past_method;	/* the request line's first SP seen */
};

struct http_connect {
	int		 status;	/* malformed: the status to answer
					   (400, 405, 431, 505) */
	int		 minor;		/* HTTP/1.minor: 0 or 1 */
	char		 host[FIELD_MAX + 1];	/* the name to resolve, case
						   as sent, or "" */
	struct sockaddr_storage addr;	/* numeric destination, port too;
					   AF_UNSPEC when named */
	uint16_t	 port;
	int		 auth;		/* HTTP_AUTH_NONE, _BASIC, _OTHER */
	struct socks5_login login;	/* Basic: user and password
					   decoded, NUL-terminated */
	size_t		 len;		/* bytes the head took, its empty
					   line too */
	struct http_scan scan;		/* zero before the first call on
					   a head, kept while it grows */
};

int	http_starts(const uint8_t *, size_t);
int	http_parse_connect(const uint8_t *, size_t, struct http_connect *,
	    const char **);
size_t	http_response(uint8_t *, size_t, int, const char *);

#endif
