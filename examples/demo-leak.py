# tend demo: a service that leaks 8 MB of anonymous memory a second until
# tend restarts it at its memory-max (event memory_limit, reason memory).
import time

held = []
while True:
    held.append(b"x" * (8 << 20))   # written, so every page is resident
    print("holding %d MB" % (8 * len(held)), flush=True)
    time.sleep(1)
