#!/usr/bin/env bash
# Single master: one name server and one broker (ASYNC_MASTER, no slave).
# Usage: deploy/single-master.sh DATA_DIR    (see deploy/README.md)
. "$(dirname "$0")/lib.sh"

namesrv
broker broker-a 0 ASYNC_MASTER 127.0.3.11
serve "single master"
