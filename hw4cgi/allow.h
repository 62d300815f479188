/* HW4_ALLOW: where hw4.cgi may connect, and what it may ask SOCKS for.
   SPDX-License-Identifier: ISC */
#ifndef ALLOW_H
#define ALLOW_H

#include <netinet/in.h>

const char	*allow_parse(const char *);
int		 allow_address(const struct sockaddr_in *);
int		 allow_name(const char *, unsigned);

#endif
