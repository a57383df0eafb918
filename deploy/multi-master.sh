#!/usr/bin/env bash
# Several masters: one name server and two broker groups of one
# ASYNC_MASTER each; a topic's queues are spread over both.
# Usage: deploy/multi-master.sh DATA_DIR    (see deploy/README.md)
. "$(dirname "$0")/lib.sh"

namesrv
broker broker-a 0 ASYNC_MASTER 127.0.3.11
broker broker-b 0 ASYNC_MASTER 127.0.3.21
serve "several masters"
