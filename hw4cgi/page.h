/* hw4.cgi's page: the form, or the result page and its panes' chunks.
   SPDX-License-Identifier: ISC */
#ifndef PAGE_H
#define PAGE_H

#include "hw4.h"

void	page_http_header(void);
void	page_form(const struct session *);
void	page_head(struct session *const *, int, const struct session *);
void	page_tail(void);
size_t	pane_output(struct session *, const unsigned char *, size_t, long *);
void	pane_command(const struct session *, const char *, size_t);
void	pane_running(const struct session *);
void	pane_end(struct session *, enum end, const char *, long long);

#endif
