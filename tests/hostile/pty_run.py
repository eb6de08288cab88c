#!/usr/bin/env python3
"""pty_run.py SECONDS OUTFILE [--stack FILE] [--kill-on TEXT]... -- command [args...]

Runs the command as the victim of a hostile-agent case: in a session of its own whose
controlling terminal is a new pseudo-terminal, which is also its stdin, stdout and stderr.
A program that asks for a passphrase (OpenSSL's default PEM callback opens /dev/tty) therefore
shows the prompt and blocks, as it would for a user at a terminal; it can never read an answer.
Everything the command writes is stored raw in OUTFILE.

Exit status: the command's (128 + N when killed by signal N); 124 when it was still running
after SECONDS (then, with --stack, `gdb -batch` first writes every thread's stack of the
command's process to FILE); 125 when its output contained one of the TEXTs (--kill-on, e.g. a
passphrase prompt: the case has failed, no need to wait for the deadline). In both cases the whole
session is killed with SIGKILL before this script returns.
"""
import os
import pty
import select
import signal
import subprocess
import sys
import time


def main(argv):
    if len(argv) < 4 or "--" not in argv:
        sys.stderr.write(__doc__)
        return 2
    sep = argv.index("--")
    opts, cmd = argv[1:sep], argv[sep + 1:]
    seconds, outfile = float(opts[0]), opts[1]
    stack_file, kill_on = None, []
    rest = opts[2:]
    while rest:
        if rest[0] == "--stack" and len(rest) > 1:
            stack_file, rest = rest[1], rest[2:]
        elif rest[0] == "--kill-on" and len(rest) > 1:
            kill_on, rest = kill_on + [rest[1].encode()], rest[2:]
        else:
            sys.stderr.write("pty_run.py: unknown option %s\n" % rest[0])
            return 2
    if not cmd:
        return 2

    pid, fd = pty.fork()  # child: setsid(), the pty as controlling terminal and fds 0-2
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            os.write(2, ("pty_run.py: cannot run %s: %s\n" % (cmd[0], e)).encode())
        os._exit(127)

    out = bytearray()
    deadline = time.monotonic() + seconds
    verdict = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            verdict = 124
            break
        r, _, _ = select.select([fd], [], [], min(left, 0.2))
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: every process holding the terminal has gone
                data = b""
            if not data:
                break
            out += data
            if any(text in out for text in kill_on):
                verdict = 125
                break

    if verdict is not None:
        if verdict == 124 and stack_file is not None:
            with open(stack_file, "w") as f:
                subprocess.run(["gdb", "-batch", "-nx", "-p", str(pid), "-ex",
                                "thread apply all bt 30"], stdout=f, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=60, check=False)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    # Drain what is left without blocking (the session is gone).
    try:
        while True:
            r, _, _ = select.select([fd], [], [], 0)
            if not r:
                break
            data = os.read(fd, 65536)
            if not data:
                break
            out += data
    except OSError:
        pass
    os.close(fd)
    with open(outfile, "wb") as f:
        f.write(bytes(out))
    if verdict is not None:
        return verdict
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
