"""The benchmark peers' command line (bench/peers/README.md), shared by quix_peer.py and faust_peer.py."""

import argparse
import sys
from typing import NoReturn

WORKLOADS = ("count", "windowed-count", "join", "restore")
GUARANTEES = ("exactly_once", "at_least_once")

# Workload windowed-count: tumbling event-time windows of 10 s, grace 0.
WINDOW_MS = 10_000
GRACE_MS = 0


def parse_args(description: str) -> argparse.Namespace:
    """Parses the contract's flags (all required)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--brokers", required=True, help="bootstrap servers, host:port[,host:port]")
    parser.add_argument("--input", required=True, help="input topic (exists)")
    parser.add_argument("--output", required=True, help="output topic (exists)")
    parser.add_argument("--app-id", required=True, help="consumer group id; internal topics are named after it")
    parser.add_argument("--workload", required=True, choices=WORKLOADS)
    parser.add_argument("--guarantee", required=True, choices=GUARANTEES)
    parser.add_argument("--commit-interval-ms", required=True, type=int)
    parser.add_argument("--state-dir", required=True, help="local state directory")
    parser.add_argument("--table", help="table topic (exists; workload join only)")
    args = parser.parse_args()
    if args.commit_interval_ms <= 0:
        parser.error("--commit-interval-ms must be > 0")
    if args.workload == "join" and not args.table:
        parser.error("--workload join needs --table")
    return args


def unsupported(reason: str) -> NoReturn:
    """Exits with status 3 and the contract's single stderr line: the contender cannot do what was asked."""
    print(f"unsupported: {reason}", file=sys.stderr, flush=True)
    sys.exit(3)
