/* Socket addresses as socks4d compares and prints them.
   SPDX-License-Identifier: ISC */
#ifndef ADDR_H
#define ADDR_H

#include <sys/socket.h>
#include <stdint.h>

#include "text.h"

uint16_t port_of(const struct sockaddr_storage *);
void	 set_port(struct sockaddr_storage *, uint16_t);
socklen_t addr_len(const struct sockaddr_storage *);
const uint8_t *addr_bytes(const struct sockaddr_storage *, int *);
void	 ipv4_of(const struct sockaddr_storage *, uint8_t [4]);
int	 is_unspecified(const struct sockaddr_storage *);
int	 is_loopback(const struct sockaddr_storage *);
int	 same_host(const struct sockaddr_storage *,
	    const struct sockaddr_storage *);
int	 address_of(const char *, uint16_t, struct sockaddr_storage *);
void	 add_addr(struct text *, const struct sockaddr_storage *);
void	 add_addr_port(struct text *, const struct sockaddr_storage *);

#endif
