/*
 * The users file for SOCKS5 username/password logins (RFC 1929).
 *
 * A login is checked against the whole text, and any malformed line (or
 * a name listed twice) fails every login (as a malformed socks.conf
 * rejects every request).  Timing should not tell a known name from an
 * unknown one: every check computes exactly one hash, an unknown name's
 * against another entry's hash, and hashes are compared in constant time.
 * No password ever goes into a message.  "$6$" hashes are computed here
 * (sha512crypt.c); with HAVE_CRYPT, the C library's crypt(3) verifies the
 * others.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE		/* crypt() in <unistd.h> */
#include <string.h>
#include <unistd.h>

#include "lines.h"
#include "sha512crypt.h"
#include "text.h"
#include "users.h"

#define PASSWORD_MAX	255	/* as RFC 1929's PLEN */

/* What an unknown name is checked against when the file has no entry. */
static const char dummy_hash[] = "$6$q.5W2c50GMymvrVf$"
    "DRMYinfEx0ZIPoheV2pYW6dzcQx0q.RsbSIDM7lRXP7ReRPEmG8dQM0G7PN"
    "UMMFQ2IP5AmwicYcqQXWmJmQ6B0";

struct entry {
	const char	*name, *hash;
	size_t		 name_len, hash_len;
};

static int
is_control(unsigned char c)
{
	return c < ' ' || c == 0x7f;
}

/* One line: -1 malformed (*why), 0 blank or a comment, 1 an entry. */
static int
parse_line(const char *line, size_t len, struct entry *e, const char **why)
{
	const char *colon;
	size_t i;

	if (len > USERS_LINE_MAX) {
		*why = "line longer than " XSTR(USERS_LINE_MAX) " bytes";
		return -1;
	}
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		continue;
	if (i == len || line[i] == '#')
		return 0;
	if ((colon = memchr(line, ':', len)) == NULL) {
		*why = "no ':' between name and hash";
		return -1;
	}
	e->name = line;
	e->name_len = (size_t)(colon - line);
	e->hash = colon + 1;
	e->hash_len = len - e->name_len - 1;
	*why = NULL;
	if (e->name_len == 0)
		*why = "empty name";
	else if (e->name_len > USERS_NAME_MAX)
		*why = "name longer than " XSTR(USERS_NAME_MAX) " bytes";
	else if (e->hash_len == 0)
		*why = "empty hash";
	for (i = 0; *why == NULL && i < e->name_len; i++)
		if (is_control(e->name[i]))
			*why = "name has control bytes";
	for (i = 0; *why == NULL && i < e->hash_len; i++)
		if ((unsigned char)e->hash[i] <= ' ' || e->hash[i] == 0x7f ||
		    (unsigned char)e->hash[i] > 0x7f || e->hash[i] == ':')
			*why = "hash has blanks, control bytes, "
			    "non-ASCII bytes or ':'";
	return *why == NULL ? 1 : -1;
}

/* The next entry: 1, or -1 for a malformed line (*why), 0 at the end. */
static int
next_entry(struct lines *ls, struct entry *e, const char **why)
{
	const char *line;
	size_t len;
	int r;

	while (next_line(ls, &line, &len))
		if ((r = parse_line(line, len, e, why)) != 0)
			return r;
	return 0;
}

/* "file:line: why" into msg, which is size bytes. */
static struct text
at_line(char *msg, size_t size, const char *file, unsigned line,
    const char *why)
{
	struct text t = { msg, 0, size };

	add_file_line(&t, file, line);
	add(&t, ": ");
	add(&t, why);
	return t;
}

/* The shortest entry is "a:b" and its newline. */
#define ENTRIES_MAX	(USERS_FILE_MAX / 4 + 1)
#define SLOTS_MAX	65536	/* a power of 2, over 2 * ENTRIES_MAX */

/* Where each name is in the text, plus 1 (0: free), by its hash. */
static uint32_t slot[SLOTS_MAX];

static uint32_t
name_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	return h;
}

/*
 * The line naming an entry's name again, or 0 if none does; *first: the
 * line that named it first.  The text is well formed, with n entries.
 */
static unsigned
listed_twice(const char *text, size_t len, int n, unsigned *first)
{
	struct lines ls = LINES(text, len);
	struct entry e;
	const char *why, *other, *p;
	size_t size = 8, i;

	while (size < 2 * (size_t)n)
		size *= 2;
	memset(slot, 0, size * sizeof slot[0]);
	while (next_entry(&ls, &e, &why) == 1) {
		for (i = name_hash(e.name, e.name_len) & (size - 1);
		    slot[i] != 0; i = (i + 1) & (size - 1)) {
			other = text + slot[i] - 1;
			if (memchr(other, ':', e.name_len + 1) !=
			    other + e.name_len ||
			    memcmp(other, e.name, e.name_len) != 0)
				continue;
			for (*first = 1, p = text; p < other; p++)
				*first += *p == '\n';
			return ls.number;
		}
		slot[i] = (uint32_t)(e.name - text) + 1;
	}
	return 0;
}

/*
 * The number of entries in the text, or -1 when it is too long, has a
 * malformed line or names someone twice (err says "file:line: reason").
 * Both a login and socks4d -t ask this, so they agree on what is bad.
 */
int
users_validate(const char *text, size_t len, const char *file, char *err,
    size_t size)
{
	struct lines ls = LINES(text, len);
	struct entry e;
	struct text t;
	const char *why;
	unsigned again, first;
	int n = 0, r;

	if (len > USERS_FILE_MAX) {
		t = (struct text){ err, 0, size };
		add(&t, file);
		add(&t, ": longer than " XSTR(USERS_FILE_MAX) " bytes");
		return USERS_MALFORMED;
	}
	while ((r = next_entry(&ls, &e, &why)) == 1)
		n++;
	if (r == -1) {
		at_line(err, size, file, ls.number, why);
		return USERS_MALFORMED;
	}
	if ((again = listed_twice(text, len, n, &first)) != 0) {
		t = at_line(err, size, file, again,
		    "name listed again (first on line ");
		add_num(&t, first, 1);
		add(&t, ")");
		return USERS_MALFORMED;
	}
	return n;
}

/* Compares all of both strings whatever they hold: 1 when they are equal. */
static int
same_string(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
	unsigned char diff = la != lb;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(i < la ? a[i] : 0) ^
		    (unsigned char)(i < lb ? b[i] : 0);
	return diff == 0;
}

/* Can this build compute hashes of this kind? */
static int
verifiable(const struct entry *e)
{
#ifdef HAVE_CRYPT
	(void)e;
	return 1;
#else
	return e->hash_len >= 3 && memcmp(e->hash, "$6$", 3) == 0;
#endif
}

/*
 * How many entries carry a hash this build cannot check (their logins
 * always fail); msg names the first as "file:line: why".
 */
int
users_unverifiable(const char *text, size_t len, const char *file,
    char *msg, size_t size)
{
	struct lines ls = LINES(text, len);
	struct entry e;
	const char *why;
	int n = 0, r;

	while ((r = next_entry(&ls, &e, &why)) != 0)
		if (r == 1 && !verifiable(&e) && n++ == 0)
			at_line(msg, size, file, ls.number, "a kind of hash "
			    "this build cannot check (it checks $6$): "
			    "that login always fails");
	return n;
}

/* Does the password hash to hash?  A hash no one can verify matches nothing. */
static int
hash_matches(const char *hash, size_t hash_len, const uint8_t *password,
    size_t password_len)
{
	char setting[USERS_LINE_MAX + 1], computed[SHA512_CRYPT_MAX];
	const char *result = NULL;
	int match;

	memcpy(setting, hash, hash_len);
	setting[hash_len] = '\0';
	if (strncmp(setting, "$6$", 3) == 0) {
		if (sha512_crypt(password, password_len, setting,
		    computed) == 0)
			result = computed;
	} else {
#ifdef HAVE_CRYPT
		char key[PASSWORD_MAX + 1];

		memcpy(key, password, password_len);
		key[password_len] = '\0';
		result = crypt(key, setting);
		crypt_wipe(key, sizeof key);
		/* crypt(3) fails with NULL or a short token starting '*'. */
		if (result != NULL && (result[0] == '*' || strlen(result) < 13))
			result = NULL;
#endif
	}
	match = result != NULL && same_string(result, setting);
	crypt_wipe(computed, sizeof computed);
	return match;
}

/*
 * The entry named name into *user (its name NULL if there is none), the
 * first this build can check into *any.  The text is valid: no name is
 * listed twice.
 */
static void
find_user(struct lines *ls, const uint8_t *name, size_t name_len,
    struct entry *user, struct entry *any)
{
	struct entry e;
	const char *why;
	int r;

	while ((r = next_entry(ls, &e, &why)) != 0) {
		if (r != 1)
			continue;
		if (any->name == NULL && verifiable(&e))
			*any = e;
		if (e.name_len == name_len &&
		    memcmp(e.name, name, name_len) == 0)
			*user = e;
	}
}

/*
 * Checks a login against the users file's text: USERS_OK, USERS_DENIED
 * (unknown name, wrong password) or USERS_MALFORMED (the file is: a bad
 * line, or a name listed twice).  msg says why, and never holds the
 * password.
 */
int
users_check(const char *text, size_t len, const char *file,
    const uint8_t *name, size_t name_len, const uint8_t *password,
    size_t password_len, char *msg, size_t size)
{
	struct lines ls = LINES(text, len);
	struct entry user = { NULL, NULL, 0, 0 };
	struct entry any = { NULL, dummy_hash, 0, sizeof dummy_hash - 1 };
	const char *why;
	struct text t;
	int r, usable;

	if (users_validate(text, len, file, msg, size) == USERS_MALFORMED)
		return USERS_MALFORMED;
	find_user(&ls, name, name_len, &user, &any);
	usable = password_len > 0 && password_len <= PASSWORD_MAX &&
	    memchr(password, '\0', password_len) == NULL;
	if (user.name != NULL && usable)
		r = hash_matches(user.hash, user.hash_len, password,
		    password_len);
	else {
		/* A known name's work, whose result cannot count. */
		(void)hash_matches(any.hash, any.hash_len, password,
		    password_len < PASSWORD_MAX ? password_len : PASSWORD_MAX);
		r = 0;
	}
	if (user.name == NULL)
		why = "unknown user";
	else if (!usable)
		why = "password empty, longer than 255 bytes or with a NUL "
		    "byte";
	else if (!verifiable(&user))
		why = "a kind of hash this build cannot check (it checks $6$)";
	else if (!r)
		why = "wrong password";
	else
		why = "password accepted";
	t = (struct text){ msg, 0, size };
	add(&t, why);
	return r ? USERS_OK : USERS_DENIED;
}

/*
 * Whether a well-formed users file names name exactly once: a running
 * session's user is still there (its password is not asked again).
 */
int
users_names(const char *text, size_t len, const char *name)
{
	struct lines ls = LINES(text, len);
	struct entry user = { NULL, NULL, 0, 0 }, any = user;
	char ignored[64];

	if (users_validate(text, len, "", ignored, sizeof ignored) ==
	    USERS_MALFORMED)
		return 0;
	find_user(&ls, (const uint8_t *)name, strlen(name), &user, &any);
	return user.name != NULL;
}
