/*
 * A strtonum-style parser: strtol would take a sign, blanks and a number
 * past the end of a field, none of which an option or a rule should mean.
 */
#include <string.h>

#include "number.h"

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
