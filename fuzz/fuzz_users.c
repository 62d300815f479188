/*
 * libFuzzer target for the users file (users.c) and SHA-512 crypt
 * (sha512crypt.c).  Input: the name, a NUL, the password, a NUL, then the
 * text of a users file, where "@@" stands for
 * the password's hash (so that logins can succeed and the names around them
 * be explored).  SHA-512 crypt is checked against the C library's crypt(3)
 * on "$6$" settings found in the text.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE		/* crypt(), memmem() */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lines.h"
#include "../sha512crypt.h"
#include "../users.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Every fixed text a message can hold, and the file's name. */
static const char reasons[] = "users:0123456789 longer than bytes "
    "line longer than 1024 bytes no ':' between name and hash empty name "
    "name longer than 255 bytes empty hash name has control bytes "
    "hash has blanks, control bytes, non-ASCII bytes or ':' name listed again "
    "(first on line ) unknown user password empty, longer than 255 bytes "
    "or with a NUL byte a kind of hash this build cannot check (it checks "
    "$6$) wrong password password accepted";

static void
check(int ok)
{
	if (!ok)
		abort();
}

/* A password with a byte no message is made of cannot be in one by chance. */
static int
foreign(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\0' || strchr(reasons, p[i]) == NULL)
			return 1;
	return 0;
}

/* More than 9999 rounds would make one input take seconds. */
static int
costly(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	size_t digits;

	while ((p = memmem(p, (size_t)(end - p), "rounds=", 7)) != NULL) {
		p += 7;
		for (digits = 0; p + digits < end && p[digits] >= '0' &&
		    p[digits] <= '9'; digits++)
			continue;
		if (digits > 4)
			return 1;
	}
	return 0;
}

/* Is there a line that starts with name and ':'? */
static int
listed(const char *text, size_t len, const uint8_t *name, size_t name_len)
{
	struct lines ls = LINES(text, len);
	const char *line;
	size_t n;

	while (next_line(&ls, &line, &n))
		if (n > name_len && memcmp(line, name, name_len) == 0 &&
		    line[name_len] == ':')
			return 1;
	return 0;
}

/* Our SHA-512 crypt and the C library's agree on a "$6$" setting. */
static void
same_as_libc(const char *text, size_t len, const uint8_t *password,
    size_t password_len)
{
	char setting[256], key[256], ours[SHA512_CRYPT_MAX];
	const char *theirs;
	size_t n = len < sizeof setting - 1 ? len : sizeof setting - 1;
	int r;

	if (len < 3 || memcmp(text, "$6$", 3) != 0 ||
	    password_len >= sizeof key)
		return;
	memcpy(setting, text, n);
	setting[n] = '\0';
	memcpy(key, password, password_len);
	key[password_len] = '\0';
	r = sha512_crypt(password, strlen(key), setting, ours);
	theirs = crypt(key, setting);
	if (r == -1)
		check(theirs == NULL || theirs[0] == '*');
	else
		check(theirs != NULL && strcmp(ours, theirs) == 0);
}

/* The text with its first few "@@" replaced by the password's hash. */
static size_t
expand(const char *text, size_t len, const uint8_t *password,
    size_t password_len, char *out)
{
	char hash[SHA512_CRYPT_MAX];
	size_t n = 0, hash_len, tokens = 0;

	if (sha512_crypt(password, password_len, "$6$rounds=1000$fuzz",
	    hash) != 0)
		abort();
	hash_len = strlen(hash);
	for (size_t i = 0; i < len; i++) {
		if (tokens < 4 && i + 1 < len && text[i] == '@' &&
		    text[i + 1] == '@') {
			memcpy(out + n, hash, hash_len);
			n += hash_len;
			tokens++;
			i++;
		} else
			out[n++] = text[i];
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *name, *password, *nul;
	size_t name_len, password_len, text_len;
	const char *text;
	static char expanded[2048 + 4 * SHA512_CRYPT_MAX];
	char msg[512];
	int n, r;

	name = data;
	if ((nul = memchr(name, '\0', size)) == NULL)
		return 0;
	name_len = (size_t)(nul - name);
	password = nul + 1;
	if ((nul = memchr(password, '\0', size - name_len - 1)) == NULL)
		return 0;
	password_len = (size_t)(nul - password);
	text = (const char *)nul + 1;
	text_len = size - name_len - password_len - 2;
	if (costly(text, text_len) || text_len > 2048)
		return 0;

	same_as_libc(text, text_len, password, password_len);
	text_len = expand(text, text_len, password, password_len, expanded);
	text = expanded;

	n = users_validate(text, text_len, "users", msg, sizeof msg);
	check(n >= -1);
	if (n == -1)
		check(strncmp(msg, "users:", 6) == 0);
	r = users_check(text, text_len, "users", name, name_len, password,
	    password_len, msg, sizeof msg);
	check(r == USERS_OK || r == USERS_DENIED || r == USERS_MALFORMED);
	check(memchr(msg, '\0', sizeof msg) != NULL);
	if (n == -1)
		check(r == USERS_MALFORMED);
	if (r == USERS_OK) {
		check(n >= 1 && name_len >= 1 && name_len <= USERS_NAME_MAX);
		check(password_len >= 1 &&
		    memchr(password, '\0', password_len) == NULL);
		check(listed(text, text_len, name, name_len));
	}
	if (foreign(password, password_len))
		check(memmem(msg, strlen(msg), password, password_len) == NULL);
	return 0;
}
