/* The test files: plain names in one directory.
   SPDX-License-Identifier: ISC */
#ifndef TESTFILE_H
#define TESTFILE_H

#include <stddef.h>

const char	*test_dir(char *, size_t);
int		 test_file_name_ok(const char *);
int		 test_file_list(char **, int);

#endif
