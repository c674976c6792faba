#!/bin/sh
# A worker pool the way real tools leave one behind: a plain background
# child, one that left the session (setsid), and a double-forked daemon.
# After 8 s the parent "crashes"; tend stops all three before restarting.
sleep 600 &
setsid sleep 601 &
sh -c 'setsid sleep 602 & exit 0'
echo "pool of 3 started (one plain, one setsid, one double-forked); crashing in 8s"
sleep 8
echo "parent crashes, leaving its pool behind" >&2
exit 1
