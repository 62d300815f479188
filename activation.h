/*
 * activation.h - systemd's socket-activation protocol, sd_listen_fds(3),
 * read natively: loading libsystemd would cost every client more than the
 * rest of socks4d.
 * SPDX-License-Identifier: ISC
 */
#ifndef ACTIVATION_H
#define ACTIVATION_H

int	activation_fds(void);
int	is_listening(int);
int	is_stream_socket(int);

#endif
