/*
 * A strtonum-style parser: strtol would take a sign, blanks and a number
 * past the end of a field, none of which an option or a rule should mean.
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "number.h"
#include "text.h"

/* A decimal number in [0, max], all digits, no sign: -1 otherwise. */
long
number(const char *s, long max)
{
	long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v <= max ? v : -1;
}

/*
 * An option's number in [min, max], or -1 with why saying what is wrong
 * with s: "is out of range MIN..MAX", or "is not a number in MIN..MAX".
 */
long
number_in(const char *s, long min, long max, struct text *why)
{
	long v = number(s, max);

	if (v >= min)
		return v;
	add(why, *s != '\0' && strspn(s, "0123456789") == strlen(s) ?
	    "is out of range " : "is not a number in ");
	add_num(why, (unsigned long long)min, 1);
	add(why, "..");
	add_num(why, (unsigned long long)max, 1);
	return -1;
}
