#!/bin/bash
# uptest_alive.sh HOST PORT: the simplest uptest. raptor runs each uptest with
# the instance's HOST and PORT appended (PORT is 0 or "none" for a worker);
# exit status 0 means healthy. This one only checks that it was called as an
# uptest: two arguments, a non-empty host, and a port that is a number or none.
set -u
if [ "$#" -ne 2 ]; then
    echo "usage: $0 HOST PORT" >&2
    exit 2
fi
host=$1 port=$2
if [ -z "$host" ]; then
    echo "$0: empty HOST" >&2
    exit 1
fi
case $port in
    none|0) ;;                                   # a worker: nothing to connect to
    ''|*[!0-9]*) echo "$0: bad PORT '$port'" >&2; exit 1 ;;
esac
exit 0
