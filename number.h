/* Decimal option and field values, parsed strictly.
   SPDX-License-Identifier: ISC */
#ifndef NUMBER_H
#define NUMBER_H

#include "text.h"

long	number(const char *, long);
long	number_in(const char *, long, long, struct text *);

#endif
