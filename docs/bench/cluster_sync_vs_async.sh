#!/bin/bash
# SYNC_MASTER vs ASYNC_MASTER, master + one slave on this machine; bench kafka 1 KiB acks=all idempotent.
B=${TWINMQ:-twinmq}
run() { role=$1; d=$(mktemp -d /tmp/perfsync.XXXX)
  $B namesrv --namesrv-listen 127.0.4.1:9876 >$d/ns.log 2>&1 & ns=$!
  sleep 0.3
  $B broker --data-dir $d/m --broker-name b1 --broker-role $role --kafka-addr 127.0.4.11:9092 --remoting-addr 127.0.4.11:10911 --ha-addr 127.0.4.11:10912 --http-addr 127.0.4.11:8080 --namesrv-addr 127.0.4.1:9876 >$d/m.log 2>&1 & m=$!
  $B broker --data-dir $d/s --broker-name b1 --broker-id 1 --broker-role SLAVE --kafka-addr 127.0.4.12:9092 --remoting-addr 127.0.4.12:10911 --ha-addr 127.0.4.12:10912 --http-addr 127.0.4.12:8080 --namesrv-addr 127.0.4.1:9876 >$d/s.log 2>&1 & s=$!
  for i in $(seq 100); do curl -s 127.0.4.11:8080/metrics | grep -q '^twinmq_ha_slaves_in_sync 1' && break; sleep 0.2; done
  echo "== $role"
  $B bench kafka --brokers 127.0.4.11:9092 --records 200000 --producers 2 --broker-pid $m 2>&1 | grep -iE 'msgs/s|MiB/s|p50|p99|loss|cpu' | head -8
  curl -s 127.0.4.11:8080/metrics | grep '^twinmq_ha_slave_lag'
  kill $m $s $ns; wait $m $s $ns 2>/dev/null; rm -rf $d
}
for r in 1 2; do run ASYNC_MASTER; run SYNC_MASTER; done
