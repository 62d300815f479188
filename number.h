/* Decimal option and field values, parsed strictly. */
#ifndef NUMBER_H
#define NUMBER_H

long	number(const char *, long);

#endif
