/* HW4_ALLOW: where rows without a SOCKS server may connect. */
#ifndef ALLOW_H
#define ALLOW_H

#include <netinet/in.h>

const char	*allow_parse(const char *);
int		 allow_permits(const struct sockaddr_in *);

#endif
