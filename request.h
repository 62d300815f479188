/* A parsed request, whichever protocol brought it.
   SPDX-License-Identifier: ISC */
#ifndef REQUEST_H
#define REQUEST_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define FIELD_MAX	255	/* USERID and names, without a NUL */
#define REQUEST_HTTP	'H'	/* the version of a request by HTTP CONNECT
				   (SOCKS's are 4 and 5) */

struct request {
	int		 version;		/* SOCKS4_VERSION,
						   SOCKS5_VERSION or
						   REQUEST_HTTP */
	int		 cmd;			/* SOCKS_CONNECT, ... */
	uint16_t	 port;
	uint8_t		 ip4[4];		/* SOCKS4: DSTIP as sent */
	struct sockaddr_storage addr;	/* numeric destination, port too;
					   AF_UNSPEC when named */
	char		 host[FIELD_MAX + 1];	/* the name to resolve, or "" */
	char		 user[FIELD_MAX + 1];	/* SOCKS4 USERID */
	size_t		 len;			/* bytes the request took */
};

#endif
