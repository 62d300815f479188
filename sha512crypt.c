/*
 * SHA-512 (FIPS 180-4) and SHA-512 crypt (Ulrich Drepper, "Unix crypt
 * using SHA-256 and SHA-512"): the "$6$" hashes of `openssl passwd -6`.
 * Checked against the C library's crypt(3) by fuzz/fuzz_users.c.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "sha512crypt.h"

#define ROUNDS_DEFAULT	5000
#define ROUNDS_MIN	1000
#define ROUNDS_MAX	999999999
#define SALT_MAX	16

struct sha512 {
	uint64_t	 h[8];
	uint8_t		 block[128];
	size_t		 used;		/* bytes in block */
	uint64_t	 total;		/* bytes hashed */
};

static const uint64_t k[80] = {
	0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL,
	0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
	0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL,
	0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
	0xd807aa98a3030242ULL, 0x12835b0145706fbeULL,
	0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
	0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL,
	0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
	0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL,
	0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
	0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL,
	0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
	0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL,
	0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
	0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL,
	0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
	0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL,
	0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
	0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL,
	0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
	0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL,
	0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
	0xd192e819d6ef5218ULL, 0xd69906245565a910ULL,
	0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
	0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL,
	0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
	0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL,
	0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
	0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL,
	0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
	0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL,
	0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
	0xca273eceea26619cULL, 0xd186b8c721c0c207ULL,
	0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
	0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL,
	0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
	0x28db77f523047d84ULL, 0x32caab7b40c72493ULL,
	0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
	0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL,
	0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};

static const uint64_t h0[8] = {
	0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL,
	0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
	0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
	0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static uint64_t
ror(uint64_t x, int n)
{
	return x >> n | x << (64 - n);
}

static uint64_t
load64(const uint8_t *p)
{
	return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 |
	    (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
	    (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
	    (uint64_t)p[6] << 8 | (uint64_t)p[7];
}

static void
compress(uint64_t h[8], const uint8_t *p)
{
	uint64_t w[80], a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = load64(p + 8 * i);
	for (; i < 80; i++)
		w[i] = (ror(w[i - 2], 19) ^ ror(w[i - 2], 61) ^ w[i - 2] >> 6) +
		    w[i - 7] + w[i - 16] +
		    (ror(w[i - 15], 1) ^ ror(w[i - 15], 8) ^ w[i - 15] >> 7);
	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	f = h[5];
	g = h[6];
	hh = h[7];
	for (i = 0; i < 80; i++) {
		t1 = hh + (ror(e, 14) ^ ror(e, 18) ^ ror(e, 41)) +
		    ((e & f) ^ (~e & g)) + k[i] + w[i];
		t2 = (ror(a, 28) ^ ror(a, 34) ^ ror(a, 39)) +
		    ((a & b) ^ (a & c) ^ (b & c));
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
}

static void
sha512_init(struct sha512 *c)
{
	memcpy(c->h, h0, sizeof c->h);
	c->used = 0;
	c->total = 0;
}

static void
sha512_update(struct sha512 *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t n;

	c->total += len;
	while (len > 0) {
		n = sizeof c->block - c->used;
		if (n > len)
			n = len;
		memcpy(c->block + c->used, p, n);
		c->used += n;
		p += n;
		len -= n;
		if (c->used == sizeof c->block) {
			compress(c->h, c->block);
			c->used = 0;
		}
	}
}

static void
sha512_final(struct sha512 *c, uint8_t out[64])
{
	uint64_t bits = c->total << 3;
	int i;

	c->block[c->used++] = 0x80;
	if (c->used > 112) {
		memset(c->block + c->used, 0, sizeof c->block - c->used);
		compress(c->h, c->block);
		c->used = 0;
	}
	memset(c->block + c->used, 0, 120 - c->used);
	for (i = 0; i < 8; i++)
		c->block[120 + i] = (uint8_t)(bits >> (56 - 8 * i));
	compress(c->h, c->block);
	for (i = 0; i < 64; i++)
		out[i] = (uint8_t)(c->h[i / 8] >> (56 - 8 * (i % 8)));
}

/* Length bytes of a repeated 64-byte digest (the "P" and "S" sequences). */
static void
update_repeated(struct sha512 *c, const uint8_t digest[64], size_t len)
{
	for (; len >= 64; len -= 64)
		sha512_update(c, digest, 64);
	sha512_update(c, digest, len);
}

/*
 * "$6$", then "rounds=N$" (N in 1000..999999999, no leading zero), then
 * up to 16 bytes of salt ended by "$" or the end.  Like the C library,
 * refuses a setting with blanks, control bytes, non-ASCII bytes or any of
 * : ; * ! \ anywhere.  Rounds or -1.
 */
static long
parse_setting(const char *setting, const char **salt, size_t *salt_len)
{
	const char *p = setting + 3;
	long rounds = ROUNDS_DEFAULT;
	size_t n;

	if (strncmp(setting, "$6$", 3) != 0)
		return -1;
	for (n = 0; setting[n] != '\0'; n++)
		if ((unsigned char)setting[n] <= ' ' ||
		    (unsigned char)setting[n] >= 0x7f ||
		    strchr(":;*!\\", setting[n]) != NULL)
			return -1;
	if (strncmp(p, "rounds=", 7) == 0) {
		p += 7;
		if (*p < '1' || *p > '9')
			return -1;
		rounds = 0;
		for (n = 0; p[n] >= '0' && p[n] <= '9'; n++) {
			if (n == 9)
				return -1;
			rounds = rounds * 10 + (p[n] - '0');
		}
		if (p[n] != '$' || rounds < ROUNDS_MIN)
			return -1;
		p += n + 1;
	}
	for (n = 0; p[n] != '\0' && p[n] != '$'; n++)
		continue;
	*salt = p;
	*salt_len = n < SALT_MAX ? n : SALT_MAX;
	return rounds;
}

/* Three digest bytes as four (or, at the end, fewer) crypt base-64 digits. */
static char *
put_b64(char *out, uint8_t b2, uint8_t b1, uint8_t b0, int digits)
{
	static const char itoa64[] =
	    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint32_t w = (uint32_t)b2 << 16 | (uint32_t)b1 << 8 | b0;

	while (digits-- > 0) {
		*out++ = itoa64[w & 0x3f];
		w >>= 6;
	}
	return out;
}

/* Zero secrets so that no later read of this memory finds them. */
void
crypt_wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* What the rounds start from: digest A, and the P and S sequences. */
static void
start(const uint8_t *key, size_t key_len, const char *salt, size_t salt_len,
    uint8_t a[64], uint8_t p_seq[64], uint8_t s_seq[64])
{
	struct sha512 c;
	uint8_t b[64];
	size_t n;

	sha512_init(&c);
	sha512_update(&c, key, key_len);
	sha512_update(&c, salt, salt_len);
	sha512_update(&c, key, key_len);
	sha512_final(&c, b);

	sha512_init(&c);
	sha512_update(&c, key, key_len);
	sha512_update(&c, salt, salt_len);
	update_repeated(&c, b, key_len);
	for (n = key_len; n > 0; n >>= 1) {
		if (n & 1)
			sha512_update(&c, b, 64);
		else
			sha512_update(&c, key, key_len);
	}
	sha512_final(&c, a);

	sha512_init(&c);
	for (n = 0; n < key_len; n++)
		sha512_update(&c, key, key_len);
	sha512_final(&c, p_seq);

	sha512_init(&c);
	for (n = 0; n < 16 + (size_t)a[0]; n++)
		sha512_update(&c, salt, salt_len);
	sha512_final(&c, s_seq);
	crypt_wipe(b, sizeof b);
	crypt_wipe(&c, sizeof c);
}

/* The rounds, digest A in and out. */
static void
stretch(uint8_t a[64], const uint8_t p_seq[64], size_t key_len,
    const uint8_t s_seq[64], size_t salt_len, long rounds)
{
	struct sha512 c;

	for (long r = 0; r < rounds; r++) {
		sha512_init(&c);
		if (r & 1)
			update_repeated(&c, p_seq, key_len);
		else
			sha512_update(&c, a, 64);
		if (r % 3 != 0)
			update_repeated(&c, s_seq, salt_len);
		if (r % 7 != 0)
			update_repeated(&c, p_seq, key_len);
		if (r & 1)
			sha512_update(&c, a, 64);
		else
			update_repeated(&c, p_seq, key_len);
		sha512_final(&c, a);
	}
	crypt_wipe(&c, sizeof c);
}

/*
 * The hash of key under setting into out (SHA512_CRYPT_MAX bytes): 0, or
 * -1 when setting is not a valid "$6$" setting.
 */
int
sha512_crypt(const uint8_t *key, size_t key_len, const char *setting,
    char *out)
{
	uint8_t a[64], p_seq[64], s_seq[64];
	const char *salt;
	size_t salt_len;
	long rounds;
	char *o = out;

	if ((rounds = parse_setting(setting, &salt, &salt_len)) == -1)
		return -1;
	start(key, key_len, salt, salt_len, a, p_seq, s_seq);
	stretch(a, p_seq, key_len, s_seq, salt_len, rounds);

	memcpy(o, "$6$", 3);
	o += 3;
	if (strncmp(setting + 3, "rounds=", 7) == 0)
		o += sprintf(o, "rounds=%ld$", rounds);
	memcpy(o, salt, salt_len);
	o += salt_len;
	*o++ = '$';
	for (int i = 0; i < 21; i++)
		o = put_b64(o, a[22 * i % 63], a[(22 * i + 21) % 63],
		    a[(22 * i + 42) % 63], 4);
	o = put_b64(o, 0, 0, a[63], 2);
	*o = '\0';

	crypt_wipe(a, sizeof a);
	crypt_wipe(p_seq, sizeof p_seq);
	crypt_wipe(s_seq, sizeof s_seq);
	return 0;
}
