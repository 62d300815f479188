/*
 * SHA-512 crypt, the "$6$" hashes `openssl passwd -6` makes (Ulrich
 * Drepper, "Unix crypt using SHA-256 and SHA-512"), built in because some
 * C libraries socks4d links with (Debian's static musl) have no crypt(3).
 * SPDX-License-Identifier: ISC
 */
#ifndef SHA512CRYPT_H
#define SHA512CRYPT_H

#include <stddef.h>
#include <stdint.h>

/* "$6$rounds=999999999$" + 16 bytes of salt + "$" + 86 + NUL */
#define SHA512_CRYPT_MAX	124

int	sha512_crypt(const uint8_t *, size_t, const char *, char *);
void	crypt_wipe(void *, size_t);

#endif
