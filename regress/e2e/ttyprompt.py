#!/usr/bin/env python3
"""Drive a password prompt on a real terminal (a pty) and say what the
terminal is left with.

    ttyprompt.py KEYS PROGRAM ARGS...

Runs PROGRAM on a new pty, waits for its prompt, then for each
character of KEYS: c sends Ctrl-C, q Ctrl-\\, h a hang-up (SIGHUP), p a
password line.  (Ctrl-Z cannot be tried here: the program leads a
session of its own, an orphaned process group, which the terminal's
stop signals do not stop.)  Prints how it ended:
    exit signal=N|status=N echo=on|off
"""
import os
import pty
import select
import signal
import sys
import termios
import time


def echo(fd):
    return "on" if termios.tcgetattr(fd)[3] & termios.ECHO else "off"


def read_some(fd, secs):
    if not select.select([fd], [], [], secs)[0]:
        return b""
    try:
        return os.read(fd, 1024)
    except OSError:
        return None


def read_until(fd, text, secs=10):
    buf = b""
    end = time.monotonic() + secs
    while text not in buf.lower() and time.monotonic() < end:
        got = read_some(fd, 0.2)
        if got is None:
            break
        buf += got
    return text in buf.lower()


def main():
    keys, argv = sys.argv[1], sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        # as on a user's terminal (a test shell's background jobs ignore
        # these, and kmctl leaves ignored signals ignored)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)
        os.execvp(argv[0], argv)
    for k in keys:
        if not read_until(fd, b": "):
            print("no prompt")
            break
        time.sleep(0.2)
        if k == "c":
            os.write(fd, b"\x03")
        elif k == "q":
            os.write(fd, b"\x1c")
        elif k == "p":
            os.write(fd, b"e2e-Tty-Pass-9\n")
        elif k == "h":
            os.kill(pid, signal.SIGHUP)
    end = time.monotonic() + 10
    while True:
        p, st = os.waitpid(pid, os.WNOHANG)
        if p:
            break
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            p, st = os.waitpid(pid, 0)
            break
        if read_some(fd, 0.1) is None:
            time.sleep(0.05)
    how = (f"signal={os.WTERMSIG(st)}" if os.WIFSIGNALED(st)
           else f"status={os.WEXITSTATUS(st)}")
    print(f"exit {how} echo={echo(fd)}")


main()
