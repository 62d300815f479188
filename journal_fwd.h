/*
 * journal_fwd.h - the listener's journal forwarder: one process that
 * passes the sessions' journal entries on to journald as one sender.
 * SPDX-License-Identifier: ISC
 */
#ifndef JOURNAL_FWD_H
#define JOURNAL_FWD_H

#include <sys/types.h>

pid_t	journal_fwd_start(void (*)(void));
void	journal_fwd_stop(pid_t);

#endif
