#!/bin/bash
B=${TWINMQ:-twinmq}; d=$(mktemp -d /tmp/perfcu.XXXX)
$B namesrv --namesrv-listen 127.0.4.1:9876 >$d/ns.log 2>&1 & ns=$!
sleep 0.3
$B broker --data-dir $d/m --broker-name b1 --kafka-addr 127.0.4.11:9092 --remoting-addr 127.0.4.11:10911 --ha-addr 127.0.4.11:10912 --http-addr 127.0.4.11:8080 --namesrv-addr 127.0.4.1:9876 >$d/m.log 2>&1 & m=$!
sleep 1
$B bench kafka --brokers 127.0.4.11:9092 --records 1000000 --producers 2 2>&1 | grep msgs/s
sync
du -sb $d/m/store/commitlog
seg=$(ls $d/m/store/commitlog | head -1)
t0=$(date +%s.%N); dd if=$d/m/store/commitlog/$seg of=$d/raw0 bs=1M conv=fdatasync 2>&1 | tail -1; t1=$(date +%s.%N)
echo "floor before (dd from the master's segment into a new file, fdatasync): $(echo "$t1 - $t0" | bc) s"
rm -f $d/raw0
t0=$(date +%s.%N)
$B broker --data-dir $d/s --broker-name b1 --broker-id 1 --broker-role SLAVE --ha-master-address 127.0.4.11:10912 --kafka-addr 127.0.4.12:9092 --remoting-addr 127.0.4.12:10911 --ha-addr 127.0.4.12:10912 --http-addr 127.0.4.12:8080 --namesrv-addr 127.0.4.1:9876 >$d/s.log 2>&1 & s=$!
for i in $(seq 3000); do l=$(curl -s 127.0.4.11:8080/metrics | grep '^twinmq_ha_slave_lag_bytes' | awk '{print $2}'); [ "$l" = "0" ] && break; sleep 0.05; done
t1=$(date +%s.%N)
echo "catch-up: $(echo "$t1 - $t0" | bc) s"
kill $m $s $ns; wait 2>/dev/null; sleep 0.5
seg=$(ls $d/m/store/commitlog | head -1)
t0=$(date +%s.%N); dd if=$d/m/store/commitlog/$seg of=$d/raw bs=1M conv=fdatasync 2>&1 | tail -1; t1=$(date +%s.%N)
echo "floor after: $(echo "$t1 - $t0" | bc) s"
ls -la $d/m/store/commitlog/ $d/s/store/commitlog/
rm -rf $d
