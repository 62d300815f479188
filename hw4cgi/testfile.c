/*
 * The test files a session sends lines from.  They are plain names looked
 * up in one directory: no '/', no leading '.', and no symlinks, so nothing
 * outside that directory can be read through the form.
 * SPDX-License-Identifier: ISC
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hw4.h"
#include "testfile.h"

static int	cmp_names(const void *, const void *);

/* Where test files live: HW4_TEST_DIR, else test_case/ beside the CGI. */
const char *
test_dir(char *buf, size_t size)
{
	const char *dir = getenv("HW4_TEST_DIR"), *sf, *p;

	if (dir != NULL && *dir != '\0')
		return dir;
	/* The web server names the CGI in SCRIPT_FILENAME. */
	sf = getenv("SCRIPT_FILENAME");
	if (sf != NULL && (p = strrchr(sf, '/')) != NULL &&
	    snprintf(buf, size, "%.*s/test_case", (int)(p - sf), sf) <
	    (int)size)
		return buf;
	return "test_case";
}

int
test_file_name_ok(const char *name)
{
	return name[0] != '.' && strlen(name) <= FNAME_MAX && plain_name(name);
}

/* The regular files with names a session may open, at most max, sorted. */
int
test_file_list(char **names, int max)
{
	char buf[4096];
	const char *dir = test_dir(buf, sizeof buf);
	struct dirent *de;
	struct stat st;
	int n = 0;
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		while (n < max && (de = readdir(d)) != NULL) {
			if (!test_file_name_ok(de->d_name) ||
			    fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
				continue;
			if ((names[n] = strdup(de->d_name)) != NULL)
				n++;
		}
		closedir(d);
	}
	qsort(names, n, sizeof names[0], cmp_names);
	return n;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}
