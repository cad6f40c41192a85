"""Drives Apache's official RocketMQ 5 Python SDK (rocketmq-python-client)
against a ringmq gRPC endpoint for the tests in tests/tests/grpc_*.rs.

One sub-command per scenario; each prints one JSON object on its last
stdout line, which the Rust test parses. Every wait is bounded by
--timeout; the script exits non-zero (with the reason on stderr) when a
bound is hit or the SDK raises.

    produce      send --count messages (normal, fifo, delay or transaction
                 committed at once) and print what was sent
    orphan       send one transactional half, never end it, and wait until
                 the broker asks the checker (RecoverOrphanedTransaction);
                 the checker commits
    receive      SimpleConsumer: receive and ack until --count messages came
                 or --timeout passed; print what arrived
"""

import argparse
import json
import sys
import threading
import time

from rocketmq import (ClientConfiguration, Credentials, FilterExpression,
                      Message, Producer, SimpleConsumer, TransactionChecker,
                      TransactionResolution)


def config(endpoint):
    return ClientConfiguration(endpoint, Credentials(), request_timeout=10)


def build(topic, index, args):
    message = Message()
    message.topic = topic
    message.body = f"body-{index}".encode()
    message.tag = args.tag
    message.keys = f"key-{index}"
    message.add_property("index", str(index))
    message.add_property("color", "blue")
    if args.kind == "fifo":
        message.message_group = f"group-{index % args.groups}"
    if args.kind == "delay":
        # SDK 5.1.2 writes this value into Timestamp.seconds as is.
        message.delivery_timestamp = int(time.time()) + args.delay_seconds
    return message


def produce(args):
    checker = AlwaysCommit() if args.kind == "transaction" else None
    producer = Producer(config(args.endpoint), (args.topic,), checker)
    producer.startup()
    sent = []
    try:
        for index in range(args.count):
            message = build(args.topic, index, args)
            if args.kind == "transaction":
                transaction = producer.begin_transaction()
                receipt = producer.send(message, transaction)
                transaction.commit()
            else:
                receipt = producer.send(message)
            sent.append({
                "index": index,
                "message_id": receipt.message_id,
                "sent_at_ms": int(time.time() * 1000),
            })
    finally:
        producer.shutdown()
    return {"sent": sent}


class AlwaysCommit(TransactionChecker):
    def __init__(self):
        self.checked = threading.Event()
        self.message_id = None

    def check(self, message):
        self.message_id = message.message_id
        self.checked.set()
        return TransactionResolution.COMMIT


def orphan(args):
    checker = AlwaysCommit()
    producer = Producer(config(args.endpoint), (args.topic,), checker)
    producer.startup()
    try:
        message = build(args.topic, 0, args)
        transaction = producer.begin_transaction()
        receipt = producer.send(message, transaction)
        # Never committed: only the broker's check-back can resolve it.
        if not checker.checked.wait(args.timeout):
            raise SystemExit("the broker never asked the transaction checker")
        # Let the checker's END_TRANSACTION reach the broker.
        time.sleep(1)
        return {"message_id": receipt.message_id, "checked_id": checker.message_id}
    finally:
        producer.shutdown()


def describe(message):
    return {
        "message_id": message.message_id,
        "topic": message.topic,
        "body": message.body.decode(errors="replace"),
        "tag": message.tag,
        "keys": sorted(message.keys),
        "properties": dict(message.properties),
        "message_group": message.message_group,
        "delivery_attempt": message.delivery_attempt,
        "corrupted": message.corrupted,
        "received_at_ms": int(time.time() * 1000),
    }


def receive(args):
    subscription = {args.topic: FilterExpression(args.tag_filter)}
    consumer = SimpleConsumer(config(args.endpoint), args.group, subscription,
                              await_duration=args.await_seconds)
    consumer.startup()
    got = []
    deadline = time.time() + args.timeout
    try:
        while len(got) < args.count and time.time() < deadline:
            for message in consumer.receive(32, args.invisible_seconds) or []:
                got.append(describe(message))
                if not args.no_ack:
                    consumer.ack(message)
    finally:
        consumer.shutdown()
    return {"received": got}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["produce", "orphan", "receive"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", default="GrpcTestGroup")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--kind", default="normal",
                        choices=["normal", "fifo", "delay", "transaction"])
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--delay-seconds", type=int, default=5)
    parser.add_argument("--tag", default="TagA")
    parser.add_argument("--tag-filter", default="*")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--await-seconds", type=int, default=2)
    parser.add_argument("--invisible-seconds", type=int, default=30)
    parser.add_argument("--no-ack", action="store_true")
    args = parser.parse_args()
    result = {"produce": produce, "orphan": orphan, "receive": receive}[args.command](args)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
