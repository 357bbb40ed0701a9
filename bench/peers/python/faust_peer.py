"""Faust (faust-streaming) benchmark peer (bench/peers/README.md has the contract).

A Faust app with id --app-id (Faust's consumer group id is the app id), no web server, consumer offsets reset to
earliest, commits every --commit-interval-ms (``broker_commit_interval``; Faust also commits every
``broker_commit_every`` = 10,000 acked records, its default), and an agent written as the Faust docs recommend:

- ``count``: a ``Table`` (RocksDB store under --state-dir, changelogged to ``<app-id>-counts-changelog``, created by
  Faust with the input's partition count) keeps the key's running count; the agent sends ``<value>:<n>`` with the
  key unchanged. Guarantee at_least_once only.

What it cannot do (it exits 3 with ``unsupported: <reason>``, as the contract asks):

- ``--guarantee exactly_once``. faust-streaming 0.15.3 has ``processing_guarantee="exactly_once"`` and does use
  Kafka transactions (one aiokafka transactional producer per assigned input partition), but input offsets, output
  and changelog are not one transaction: ``Consumer._commit_offsets`` commits the transactions without first
  flushing the producer buffer (``app.producer.flush()`` is on the at-least-once path only), and Table changelog
  writes go through that buffer (``Topic.send_soon``), so a changelog record can land in the transaction after the
  one that committed its input offset; and ``TransactionManager.send`` picks a record's transaction by its
  destination partition, not by the input partition whose offsets it commits. Duplicates under exactly_once are
  reported and open upstream (faust-streaming/faust#517).
- ``windowed-count``. A tumbling windowed Table with ``on_window_close`` closes windows by wall-clock time:
  ``Table._del_old_keys`` runs every ``table_cleanup_interval`` and tests ``window.stale(end, time.time())``, not
  the partition's stream time. On a pre-loaded input (timestamps in the past) it closes every window it holds at
  each tick — the input's last windows, and windows still receiving records (emitted early, then again with the
  rest) — so it cannot emit the contract's final results only (``suppress(untilWindowCloses)``). It also calls
  ``on_window_close`` from that timer, outside any stream event, so what it emits is not tied to input offsets.
- ``join``. faust-streaming 0.15.3 has no stream-table join: ``Stream.join``/``inner_join`` build a
  ``faust.joins.InnerJoin`` whose ``process`` is the base class's ``raise NotImplementedError()`` (faust/joins.py);
  a Table is read by hand in an agent, which is not a join with the table's event time.
- ``restore``: not written for this peer (the harness would have to write ``<app-id>-counts-changelog`` in Faust's
  serialization and time Faust's recovery); the row says so.
"""

import argparse
import asyncio

import faust
from aiokafka import AIOKafkaProducer
from faust.worker import Worker

from contract import parse_args, unsupported

EXACTLY_ONCE = (
    "faust-streaming 0.15.3's exactly_once does not put input offsets, output and changelog in one transaction "
    "(commits without flushing the buffered changelog writes; transaction picked by the output partition)"
)
WINDOWED = (
    "faust closes windows by wall-clock time (table cleanup timer), not by stream time: "
    "it cannot emit final results only when stream time passes window end + grace"
)


async def partition_count(brokers: str, topic: str) -> int:
    """The topic's partition count, from the cluster's metadata."""
    producer = AIOKafkaProducer(bootstrap_servers=brokers)
    await producer.start()
    try:
        return len(await producer.partitions_for(topic))
    finally:
        await producer.stop()


def build_app(args: argparse.Namespace, partitions: int) -> faust.App:
    """The Faust app and its count agent."""
    app = faust.App(
        args.app_id,
        broker=[f"kafka://{broker}" for broker in args.brokers.split(",")],
        store="rocksdb://",
        datadir=args.state_dir,
        topic_partitions=partitions,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=args.commit_interval_ms / 1000,
        processing_guarantee="at_least_once",
        web_enabled=False,
    )
    source = app.topic(args.input, key_type=str, value_type=str, key_serializer="raw", value_serializer="raw")
    sink = app.topic(args.output, key_serializer="raw", value_serializer="raw")
    counts = app.Table("counts", default=int, partitions=partitions)

    @app.agent(source)
    async def count(stream: faust.StreamT) -> None:
        async for key, value in stream.items():
            counts[key] += 1
            await sink.send(key=key, value=f"{value}:{counts[key]}")

    return app


JOIN = (
    "faust-streaming 0.15.3 has no stream-table join: Stream.join/inner_join build a faust.joins.InnerJoin whose "
    "process() raises NotImplementedError (faust/joins.py)"
)
RESTORE = "not written for the Faust peer: the harness writes no changelog in Faust's format to restore from"


def main() -> None:
    args = parse_args("Faust (faust-streaming) benchmark peer")
    if args.workload == "join":
        unsupported(JOIN)
    if args.workload == "restore":
        unsupported(RESTORE)
    if args.guarantee == "exactly_once":
        unsupported(EXACTLY_ONCE)
    if args.workload == "windowed-count":
        unsupported(WINDOWED)
    partitions = asyncio.run(partition_count(args.brokers, args.input))
    app = build_app(args, partitions)
    Worker(app, loglevel="INFO", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
