/* SOCKS4 and SOCKS4a: the request parser and the reply.
   SPDX-License-Identifier: ISC */
#ifndef SOCKS4_H
#define SOCKS4_H

#include "request.h"

/* 8 + USERID + NUL + HOSTNAME + NUL, with room */
#define SOCKS4_REQUEST_MAX	1024

int	socks4_parse(const uint8_t *, size_t, struct request *, const char **);
void	socks4_reply(uint8_t [8], int, uint16_t, const uint8_t [4]);

#endif
