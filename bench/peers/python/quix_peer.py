"""Quix Streams benchmark peer (bench/peers/README.md has the contract).

One Quix Streams ``Application`` (consumer group = --app-id, earliest offsets, RocksDB state under --state-dir with
changelog topics named after the group, commits every --commit-interval-ms, ``processing_guarantee`` exactly-once
or at-least-once), written as the Quix docs recommend:

- ``count``: a stateful ``apply`` keeps the key's running count in its ``State`` and outputs ``<value>:<n>`` with
  the key unchanged.
- ``windowed-count``: ``tumbling_window(10 s, grace 0).count().final(closing_strategy="partition")`` — final
  results only, a window closing when the partition's stream time passes its end + grace, as the contract says
  (Quix's default strategy "key" would close a key's windows only on that key's next record). Output key
  ``<key>@<window start ms>``, value the count.
- ``join``: ``join_asof(table, how="inner")``, Quix's join for enrichment (the stream record with the table's
  latest record of its key at or before its timestamp), the merge writing ``<stream value>|<table value>``. The
  table's records go to a RocksDB store (changelogged) without output. Quix reads the two topics as they are
  fetched: nothing holds the stream back until the table's older records are in (Kafka Streams' max.task.idle.ms);
  the harness's verifier says whether the output was complete.
- ``restore``: not written for this peer (its changelog ``changelog__<app-id>--<input>--default`` has Quix's own key
  prefixes and headers, which the harness does not write); it exits 3 so the row says so.

Quix stops cleanly on SIGTERM (its own handler): it finishes the current record, commits, and ``run()`` returns.
"""

from typing import Any

from quixstreams import Application, State
from quixstreams.models import SerializationContext, Serializer

from contract import GRACE_MS, WINDOW_MS, parse_args, unsupported


def count(value: str, state: State) -> str:
    """The key's running count, kept in its State: ``<value>:<n>``."""
    n = state.get("count", 0) + 1
    state.set("count", n)
    return f"{value}:{n}"


def join_values(value: str, row: str) -> str:
    """The join's output value: ``<stream value>|<table value>``."""
    return f"{value}|{row}"


def window_result(window: dict, key: str, timestamp: int, headers: Any) -> dict:
    """A closed window as the output record: key ``<key>@<window start ms>``, value the count."""
    return {"key": f"{key}@{window['start']}", "count": str(window["value"])}


class CountSerializer(Serializer):
    """Writes a window result's count as the record value (its key is set by ``to_topic``)."""

    def __call__(self, value: dict, ctx: SerializationContext) -> bytes:
        return value["count"].encode()


def main() -> None:
    args = parse_args("Quix Streams benchmark peer")
    if args.workload == "restore":
        unsupported(
            "not written for the Quix peer: the harness writes no changelog in Quix's format "
            "(changelog__<app-id>--<input>--default, key prefixes, headers) to restore from"
        )
    app = Application(
        broker_address=args.brokers,
        consumer_group=args.app_id,
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once" if args.guarantee == "exactly_once" else "at-least-once",
        commit_interval=args.commit_interval_ms / 1000,
        state_dir=args.state_dir,
    )
    source = app.topic(args.input, key_deserializer="string", value_deserializer="string")
    sdf = app.dataframe(source)
    if args.workload == "count":
        sink = app.topic(args.output, key_serializer="string", value_serializer="string")
        sdf.apply(count, stateful=True).to_topic(sink)
    elif args.workload == "join":
        sink = app.topic(args.output, key_serializer="string", value_serializer="string")
        table = app.dataframe(app.topic(args.table, key_deserializer="string", value_deserializer="string"))
        sdf.join_asof(table, how="inner", on_merge=join_values).to_topic(sink)
    else:
        sink = app.topic(args.output, key_serializer="string", value_serializer=CountSerializer())
        windows = sdf.tumbling_window(duration_ms=WINDOW_MS, grace_ms=GRACE_MS).count()
        results = windows.final(closing_strategy="partition").apply(window_result, metadata=True)
        results.to_topic(sink, key=lambda result: result["key"])
    app.run()


if __name__ == "__main__":
    main()
