#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""pty_run.py OUT STOP CMD...: CMD on a pseudo-terminal of its own, as run
from a terminal, its output copied to OUT as it comes; once the file STOP
exists, Ctrl-C is typed (the terminal sends SIGINT to its foreground
process group).  Exits with CMD's status, or 128 + the signal that killed
it."""
import os
import pty
import select
import signal
import sys

out, stop, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    # as from a login shell: a job bats started in the background has
    # SIGINT and SIGQUIT ignored, which no shell below could trap again
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    os.execvp(cmd[0], cmd)
typed = False
with open(out, "ab", buffering=0) as f:
    while True:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:     # EIO: every process has left the terminal
                break
            if not data:
                break
            f.write(data)
        if not typed and os.path.exists(stop):
            os.write(fd, b"\x03")
            typed = True
_, status = os.waitpid(pid, 0)
if os.WIFSIGNALED(status):
    sys.exit(128 + os.WTERMSIG(status))
sys.exit(os.WEXITSTATUS(status))
