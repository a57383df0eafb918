#!/usr/bin/env bash
# Several masters, each with an asynchronous slave: two broker groups of an
# ASYNC_MASTER and a SLAVE; a send is acknowledged once the master has it,
# and the slave copies it behind.
# Usage: deploy/multi-master-async-slave.sh DATA_DIR    (see deploy/README.md)
. "$(dirname "$0")/lib.sh"

namesrv
broker broker-a 0 ASYNC_MASTER 127.0.3.11
broker broker-a 1 SLAVE 127.0.3.12
broker broker-b 0 ASYNC_MASTER 127.0.3.21
broker broker-b 1 SLAVE 127.0.3.22
serve "several masters, each with an async slave"
