"""Shared plumbing of the Python client scripts (kafka_python_client.py,
confluent_client.py) that ../kafka_python_test.go runs.

Both scripts take one role as their first argument, flags after it, and
for the roles that need a list (records to produce, timestamps to look up)
one JSON document on stdin. Every result is one JSON line on stdout; the
Go test decodes the lines and makes every assertion, so the scripts only
drive the client and report what it saw. Logs go to stderr, which the Go
test prints only when a script fails. Exit status: 0 done, 2 a deadline
passed, 1 anything else (an uncaught exception).
"""

import argparse
import json
import logging
import sys
import time


def emit(event, **fields):
    """Writes one result line; flushed at once so a script killed at its
    deadline still leaves everything it saw for the Go test's message."""
    fields["event"] = event
    sys.stdout.write(json.dumps(fields, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def fail(msg):
    """Ends the script with status 2 (a deadline or a count not reached)."""
    sys.stderr.write(msg + "\n")
    sys.exit(2)


def quiet_logs():
    """kafka-python logs every reconnect and rebalance at INFO/WARNING
    through the root logger; keep errors only, on stderr."""
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR,
                        format="%(name)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)


def read_input():
    """The JSON document the Go test writes on stdin."""
    return json.load(sys.stdin)


def parser(roles):
    """The common flags; role-specific flags are optional and checked by
    the role that needs them."""
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=roles)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic")
    p.add_argument("--group")
    p.add_argument("--codec", default="none")
    p.add_argument("--want", type=int, default=0)
    p.add_argument("--partitions", type=int, default=1)
    p.add_argument("--to-datetime", type=int, help="reset: epoch milliseconds")
    p.add_argument("--to-earliest", action="store_true")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds")
    return p


class Deadline:
    """A point in time the script's loops give up at."""

    def __init__(self, seconds):
        self.at = time.monotonic() + seconds

    def left(self):
        return max(0.0, self.at - time.monotonic())

    def passed(self):
        return time.monotonic() >= self.at


def header_pairs(headers):
    """Headers as JSON-friendly [key, value] pairs, values decoded as
    UTF-8 (the tests send text headers only)."""
    return [[k, v.decode("utf-8") if v is not None else None] for k, v in (headers or [])]


def reset_target(to_datetime, by_time, earliest, end):
    """The offset kafka-consumer-groups --reset-offsets picks for one
    partition: --to-datetime takes the first offset whose timestamp is at
    or after the time, and the log end offset when there is none (Kafka's
    ListOffsets answers -1 then: ResetOffsetsCommand falls back to the
    end); --to-earliest takes the log start offset."""
    if to_datetime is None:
        return earliest
    if by_time is None or by_time < 0:
        return end
    return by_time
