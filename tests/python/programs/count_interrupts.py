"""Counts the SIGINTs it gets (a handler that only counts, as a program that asks for
a second Ctrl-C before it quits does), says "ready" at once, and prints the count
after a second and a half."""
import signal
import time

count = 0


def count_one(*_):
    global count
    count += 1


signal.signal(signal.SIGINT, count_one)
print("ready", flush=True)
end = time.monotonic() + 1.5
while time.monotonic() < end:
    time.sleep(0.05)
print("interrupts", count, flush=True)
