#!/bin/sh
# The services of bench/compare.py that must start fast: a shell, one line
# to the bench's FIFO ("TAG PID ..."), then exec.  The same file for every
# supervisor and for the bare fork+exec it is compared with.
#   peer_svc.sh hello FIFO TAG   says "TAG PID", becomes `sleep 3600`
#   peer_svc.sh tree FIFO TAG    starts a plain and a setsid child (both
#                                `sleep 3600`), says "TAG PID PLAIN SETSID"
#                                once the setsid one has its own session,
#                                becomes `sleep 3600` (their parent)
mode=$1 fifo=$2 tag=$3
case $mode in
hello)
	echo "$tag $$" >>"$fifo"
	;;
tree)
	sleep 3600 &
	plain=$!
	setsid sleep 3600 &
	s=$!
	# says so only once that child has left the session
	sid=
	while [ "$sid" != "$s" ] && [ -e /proc/$s ]; do
		read -r _ _ _ _ _ sid _ </proc/$s/stat
	done
	echo "$tag $$ $plain $s" >>"$fifo"
	;;
*)
	echo "peer_svc.sh: unknown mode $mode" >&2
	exit 2
	;;
esac
exec sleep 3600
