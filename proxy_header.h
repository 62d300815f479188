/* The PROXY protocol's header, versions 1 and 2: the parser and what it
   finds.  SPDX-License-Identifier: ISC */
#ifndef PROXY_HEADER_H
#define PROXY_HEADER_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define PROXY_V1_MAX	107	/* the spec's longest v1 line, CRLF too */
#define PROXY_V2_BODY_MAX 512	/* v2's addresses and TLVs, at most */
#define PROXY_HEADER_MAX (16 + PROXY_V2_BODY_MAX)
#define PROXY_SIGNATURE_MIN 6	/* bytes that tell a header: "PROXY " */

enum proxy_command {
	PROXY_LOCAL,		/* v2 LOCAL, v1 UNKNOWN: the balancer's own
				   connection, a health check */
	PROXY_PROXY,		/* a client's: src and dst say whose */
};

struct proxy_header {
	size_t		 len;		/* bytes the header took */
	int		 version;	/* 1 or 2 */
	enum proxy_command command;
	struct sockaddr_storage src;	/* PROXY: the client, port too */
	struct sockaddr_storage dst;	/* and where it reached the
					   balancer */
};

int	proxy_header_starts(const uint8_t *, size_t);
int	proxy_header_parse(const uint8_t *, size_t, struct proxy_header *,
	    const char **);

#endif
