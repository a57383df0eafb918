#!/usr/bin/env bash
# Several masters, each with a synchronous slave ("sync double write"): two
# broker groups of a SYNC_MASTER and a SLAVE; a send is acknowledged once
# the slave has it too. --min-in-sync-replicas 2 makes a master refuse
# writes while its slave is out of sync rather than acknowledge them alone
# (MIN_IN_SYNC=1 deploy/multi-master-sync-slave.sh DIR: keep writing).
# Usage: deploy/multi-master-sync-slave.sh DATA_DIR    (see deploy/README.md)
. "$(dirname "$0")/lib.sh"

min=${MIN_IN_SYNC:-2}
namesrv
broker broker-a 0 SYNC_MASTER 127.0.3.11 --min-in-sync-replicas "$min"
broker broker-a 1 SLAVE 127.0.3.12
broker broker-b 0 SYNC_MASTER 127.0.3.21 --min-in-sync-replicas "$min"
broker broker-b 1 SLAVE 127.0.3.22
serve "several masters, each with a sync slave (sync double write)"
