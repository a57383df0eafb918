"""Drives kafka-python (Debian python3-kafka 2.0.2, pure Python; codecs
from python3-snappy, python3-lz4, python3-zstandard) for
../kafka_python_test.go. Roles (common.py describes the protocol):

  produce      stdin {"records": [{topic, partition, key, value, ts,
               headers: [[k, v]]}]}; --codec none|gzip|snappy|lz4|zstd;
               emits sent {i, partition, offset} in record order
  consume      --topic --group --want: a subscribed group member from the
               earliest offset until --want records arrived, then a
               synchronous commit; emits msg per record, then committed
               per partition as the coordinator reads it back
  times        --topic; stdin {"queries": [{partition, ts}]}: emits
               offset {partition, ts, offset, recordTs} (offset -1 when
               no record is that recent)
  reset        --topic --group and --to-datetime MS or --to-earliest:
               kafka-consumer-groups --reset-offsets --execute done with
               this client; emits group {state} as described before the
               reset, then reset {partition, offset} as committed
  admin        --topic --partitions: create (with retention.ms), list,
               describe, describe configs, add a partition, delete, list
               again; emits one line per step
"""

import sys
import time

from common import Deadline, emit, fail, header_pairs, parser, quiet_logs, read_input, reset_target

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.structs import OffsetAndMetadata

ROLES = ["produce", "consume", "times", "reset", "admin"]


def produce(args):
    records = read_input()["records"]
    codec = None if args.codec == "none" else args.codec
    # linger_ms batches several records per request, so the compressed
    # batches hold more than one record; acks=all as a careful producer.
    p = KafkaProducer(bootstrap_servers=args.bootstrap, compression_type=codec, acks="all",
                      linger_ms=5, request_timeout_ms=int(args.timeout * 1000))
    futures = []
    for r in records:
        futures.append(p.send(r["topic"], value=r["value"].encode(), key=r["key"].encode(),
                              headers=[(k, v.encode()) for k, v in r["headers"]],
                              partition=r["partition"], timestamp_ms=r["ts"]))
    p.flush(timeout=args.timeout)
    for i, f in enumerate(futures):
        md = f.get(timeout=args.timeout)
        emit("sent", i=i, partition=md.partition, offset=md.offset)
    p.close(timeout=args.timeout)


def consume(args):
    dl = Deadline(args.timeout)
    c = KafkaConsumer(args.topic, bootstrap_servers=args.bootstrap, group_id=args.group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      fetch_max_wait_ms=200)
    got = 0
    while got < args.want:
        if dl.passed():
            fail("kafka-python consume: %d of %d records" % (got, args.want))
        for tp, recs in c.poll(timeout_ms=200).items():
            for r in recs:
                got += 1
                emit("msg", partition=r.partition, offset=r.offset,
                     key=r.key.decode() if r.key is not None else None, value=r.value.decode(),
                     headers=header_pairs(r.headers), ts=r.timestamp, tsType=r.timestamp_type)
    c.commit()
    # committed() answers from the client's own record of its last
    # successful commit; the Go test reads the coordinator's with kadm.
    for tp in sorted(c.assignment()):
        emit("committed", partition=tp.partition, offset=c.committed(tp))
    c.close(autocommit=False)


def times(args):
    queries = read_input()["queries"]
    c = KafkaConsumer(bootstrap_servers=args.bootstrap, enable_auto_commit=False)
    # offsets_for_times takes one timestamp per partition: one call per
    # query, as a "seek to time" tool does per partition.
    for q in queries:
        tp = TopicPartition(args.topic, q["partition"])
        r = c.offsets_for_times({tp: q["ts"]})[tp]
        emit("offset", partition=q["partition"], ts=q["ts"], offset=r.offset if r else -1,
             recordTs=r.timestamp if r else None)
    c.close()


def group_state(args):
    adm = KafkaAdminClient(bootstrap_servers=args.bootstrap)
    try:
        (g,) = adm.describe_consumer_groups([args.group])
        return g.state
    finally:
        adm.close()


def reset(args):
    # kafka-consumer-groups refuses to reset a group that has members: it
    # describes the group first. The Go test asserts the state.
    state = group_state(args)
    emit("group", state=state)
    if state not in ("Empty", "Dead"):
        fail("group %s is %s, not inactive" % (args.group, state))
    # A consumer of the group that is assigned the partitions, never
    # subscribed: its commits carry generation -1 and no member id, as
    # the Java admin client's alterConsumerGroupOffsets does.
    c = KafkaConsumer(bootstrap_servers=args.bootstrap, group_id=args.group, enable_auto_commit=False)
    parts = c.partitions_for_topic(args.topic)
    if not parts:
        fail("no partitions for %s" % args.topic)
    tps = [TopicPartition(args.topic, p) for p in sorted(parts)]
    c.assign(tps)
    earliest = c.beginning_offsets(tps)
    end = c.end_offsets(tps)
    by_time = {}
    if args.to_datetime is not None:
        by_time = c.offsets_for_times({tp: args.to_datetime for tp in tps})
    target = {}
    for tp in tps:
        bt = by_time.get(tp)
        target[tp] = reset_target(args.to_datetime, bt.offset if bt else None, earliest[tp], end[tp])
    c.commit({tp: OffsetAndMetadata(o, "") for tp, o in target.items()})
    for tp in tps:
        emit("reset", partition=tp.partition, offset=target[tp])
    c.close(autocommit=False)


def admin(args):
    adm = KafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=int(args.timeout * 1000))
    dl = Deadline(args.timeout)
    t = args.topic
    adm.create_topics([NewTopic(t, args.partitions, 1, topic_configs={"retention.ms": "3600000"})])
    emit("created", topic=t)
    emit("listed", present=t in adm.list_topics())
    (d,) = adm.describe_topics([t])
    emit("described", topic=d["topic"], error=d["error_code"], partitions=len(d["partitions"]),
         leaders=sorted({p["leader"] for p in d["partitions"]}))
    (cfg,) = adm.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t)])
    # DescribeConfigs v0 response: resources = [(error, msg, type, name,
    # [(name, value, read_only, is_default, is_sensitive)])].
    entries = {e[0]: e[1] for e in cfg.resources[0][4]}
    emit("configs", retentionMs=entries.get("retention.ms"))
    adm.create_partitions({t: NewPartitions(args.partitions + 1)})
    (d,) = adm.describe_topics([t])
    emit("grown", partitions=len(d["partitions"]))
    adm.delete_topics([t], timeout_ms=int(args.timeout * 1000))
    emit("deleted", topic=t)
    # list_topics sends a Metadata request for all topics, which never
    # auto-creates one; wait for the deletion to show.
    while t in adm.list_topics():
        if dl.passed():
            fail("%s still listed after delete" % t)
        time.sleep(0.05)
    emit("listed", present=False)
    adm.close()


def main():
    quiet_logs()
    args = parser(ROLES).parse_args()
    {"produce": produce, "consume": consume, "times": times, "reset": reset, "admin": admin}[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
