"""Drives confluent-kafka-python (Debian python3-confluent-kafka 1.7.0 over
the system librdkafka) for ../kafka_python_test.go, with the same roles
and output as kafka_python_client.py (see there and common.py):

  produce   idempotent producer, --codec none|gzip|snappy|lz4|zstd
  consume   subscribed group member, synchronous commit, committed as
            the coordinator answers OffsetFetch
  times     Consumer.offsets_for_times (librdkafka returns no record
            timestamp, so recordTs is null)
  reset     group state from AdminClient.list_groups, then commits from
            a consumer that is assigned, not subscribed
  admin     create, list, describe configs, add a partition, delete, list

1.7.0 has no AdminClient.alter_consumer_group_offsets (added in 2.0), so
the reset commits as a consumer, as kafka-python's does.
"""

import sys
import time

from common import Deadline, emit, fail, header_pairs, parser, read_input, reset_target

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

ROLES = ["produce", "consume", "times", "reset", "admin"]

# log_level 3 (error): librdkafka logs each connection it closes as idle
# or refused at 4 and up, which fills the test output.
QUIET = {"log_level": 3}


def conf(args, **kv):
    c = {"bootstrap.servers": args.bootstrap}
    c.update(QUIET)
    c.update({k.replace("_", "."): v for k, v in kv.items()})
    return c


def produce(args):
    records = read_input()["records"]
    p = Producer(conf(args, compression_codec=args.codec, linger_ms=5, enable_idempotence=True))
    reports = {}

    def delivered(i):
        def cb(err, msg):
            reports[i] = (err, msg)
        return cb

    for i, r in enumerate(records):
        p.produce(r["topic"], value=r["value"].encode(), key=r["key"].encode(), partition=r["partition"],
                  timestamp=r["ts"], headers=[(k, v.encode()) for k, v in r["headers"]],
                  on_delivery=delivered(i))
    left = p.flush(args.timeout)
    if left:
        fail("confluent produce: %d records undelivered" % left)
    for i in range(len(records)):
        err, msg = reports[i]
        if err is not None:
            raise KafkaException(err)
        emit("sent", i=i, partition=msg.partition(), offset=msg.offset())


def consume(args):
    dl = Deadline(args.timeout)
    c = Consumer(conf(args, group_id=args.group, auto_offset_reset="earliest", enable_auto_commit=False,
                      fetch_wait_max_ms=200))
    c.subscribe([args.topic])
    got = 0
    while got < args.want:
        if dl.passed():
            fail("confluent consume: %d of %d records" % (got, args.want))
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            raise KafkaException(m.error())
        got += 1
        ts_type, ts = m.timestamp()
        emit("msg", partition=m.partition(), offset=m.offset(),
             key=m.key().decode() if m.key() is not None else None, value=m.value().decode(),
             headers=header_pairs(m.headers()), ts=ts, tsType=ts_type)
    c.commit(asynchronous=False)
    # committed() sends OffsetFetch to the coordinator.
    for tp in sorted(c.committed(c.assignment(), timeout=args.timeout), key=lambda tp: tp.partition):
        emit("committed", partition=tp.partition, offset=tp.offset)
    c.close()


def times(args):
    queries = read_input()["queries"]
    # confluent-kafka-python 1.7 refuses a Consumer without group.id; this
    # one never subscribes nor commits, so the group is never joined.
    c = Consumer(conf(args, group_id="unused-times", enable_auto_commit=False))
    for q in queries:
        (r,) = c.offsets_for_times([TopicPartition(args.topic, q["partition"], q["ts"])], timeout=args.timeout)
        if r.error:
            raise KafkaException(r.error)
        emit("offset", partition=q["partition"], ts=q["ts"], offset=r.offset, recordTs=None)
    c.close()


def group_state(args):
    adm = AdminClient(conf(args))
    gs = adm.list_groups(args.group, timeout=args.timeout)
    if len(gs) != 1:
        fail("list_groups(%s): %d groups" % (args.group, len(gs)))
    return gs[0].state


def reset(args):
    # kafka-consumer-groups refuses to reset a group that has members: it
    # describes the group first. The Go test asserts the state.
    state = group_state(args)
    emit("group", state=state)
    if state not in ("Empty", "Dead"):
        fail("group %s is %s, not inactive" % (args.group, state))
    c = Consumer(conf(args, group_id=args.group, enable_auto_commit=False))
    md = c.list_topics(args.topic, timeout=args.timeout).topics[args.topic]
    if md.error is not None or not md.partitions:
        fail("no partitions for %s: %s" % (args.topic, md.error))
    parts = sorted(md.partitions)
    # Assigned, never subscribed: librdkafka commits with generation -1 and
    # no member id, as the Java admin client's alterConsumerGroupOffsets.
    c.assign([TopicPartition(args.topic, p) for p in parts])
    by_time = {}
    if args.to_datetime is not None:
        for r in c.offsets_for_times([TopicPartition(args.topic, p, args.to_datetime) for p in parts],
                                     timeout=args.timeout):
            by_time[r.partition] = r.offset
    target = []
    for p in parts:
        low, high = c.get_watermark_offsets(TopicPartition(args.topic, p), timeout=args.timeout)
        target.append(TopicPartition(args.topic, p, reset_target(args.to_datetime, by_time.get(p), low, high)))
    for r in c.commit(offsets=target, asynchronous=False):
        if r.error:
            raise KafkaException(r.error)
    for tp in target:
        emit("reset", partition=tp.partition, offset=tp.offset)
    c.close()


def wait(futures, timeout):
    for f in futures.values():
        f.result(timeout)


def admin(args):
    adm = AdminClient(conf(args))
    dl = Deadline(args.timeout)
    t = args.topic
    wait(adm.create_topics([NewTopic(t, args.partitions, 1, config={"retention.ms": "3600000"})]), args.timeout)
    emit("created", topic=t)
    # list_topics() without a topic asks for all topics, which never
    # auto-creates one.
    md = adm.list_topics(timeout=args.timeout).topics
    emit("listed", present=t in md)
    tm = md[t]
    emit("described", topic=tm.topic, error=tm.error.code() if tm.error else 0, partitions=len(tm.partitions),
         leaders=sorted({p.leader for p in tm.partitions.values()}))
    fs = adm.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, t)])
    (entries,) = [f.result(args.timeout) for f in fs.values()]
    emit("configs", retentionMs=entries["retention.ms"].value if "retention.ms" in entries else None)
    wait(adm.create_partitions([NewPartitions(t, args.partitions + 1)]), args.timeout)
    emit("grown", partitions=len(adm.list_topics(timeout=args.timeout).topics[t].partitions))
    wait(adm.delete_topics([t], operation_timeout=args.timeout), args.timeout)
    emit("deleted", topic=t)
    while t in adm.list_topics(timeout=args.timeout).topics:
        if dl.passed():
            fail("%s still listed after delete" % t)
        time.sleep(0.05)
    emit("listed", present=False)


def main():
    args = parser(ROLES).parse_args()
    {"produce": produce, "consume": consume, "times": times, "reset": reset, "admin": admin}[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
