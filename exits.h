/* socks4d's exit statuses, as socks4d(8) lists them.
   SPDX-License-Identifier: ISC */
#ifndef EXITS_H
#define EXITS_H

#define EXIT_RELAYED	0	/* the session ran and both sides closed, or
				   was a balancer's health check */
#define EXIT_REJECTED	1	/* request malformed, denied or failed */
#define EXIT_USAGE	2	/* a bad option or argument */
#define EXIT_LOGIN_FAILED 3	/* a SOCKS5 or HTTP login failed (not
				   from behind a balancer): the listener
				   counts these for its penalties */
#define EXIT_SYSTEM	111	/* could not listen, or stop being root */

#endif
