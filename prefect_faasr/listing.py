"""Listing only what can still change: key ranges of an S3 prefix, planned from the keys already known.

An invocation folder keeps every key of every finished function instance (its log, its `.done`), and a
listing returns ~350 bytes of XML per key whether it changed or not: at 1000 instances a full listing is
2000 keys, most of them of instances that are final and will not change. `KeySpace` knows every key that
exists or may come (the workflow names each instance's keys in advance, listings add the rest) and plans
the ListObjectsV2 calls that cover the *watched* keys (those of instances that are not final and quiet):
one `StartAfter` range per run of watched keys in key order, two runs merged when fewer than
`request_cost` known keys lie between them, and the whole prefix listed at once whenever that is cheaper.

Cost model: one request costs as much as `request_cost` listed keys (default 100, ~35 KB of XML). On AWS a
LIST request is priced like ~50 KB of transfer, and one round trip costs the client about as much CPU as
parsing 50-100 keys, so splitting a listing only pays when it skips about that many keys.

Pure except for `list_range`, which takes its client.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

PAGE = 1000  # keys per ListObjectsV2 page (the S3 maximum)
REQUEST_COST = 100  # listed keys one request is worth (module docstring)
SLACK = 10  # extra keys asked for beyond the expected ones (keys created since the last listing)


@dataclass(frozen=True)
class KeyRange:
    """Keys after `start_after` (None: from the prefix's first key) up to `last` (None: to the end),
    listed under `prefix` (the longest one its keys share, so the listing stops where they end)."""

    start_after: str | None
    last: str | None
    expected: int  # keys the range is expected to hold (sets MaxKeys)
    prefix: str | None = None  # None: the KeySpace's prefix


class KeySpace:
    """The keys of one prefix: every key known (sorted) and which of them exist, as far as last seen."""

    def __init__(self, prefix: str, keys: Iterable[str] = ()) -> None:
        self.prefix = prefix
        self.keys: list[str] = sorted(set(keys))
        self.existing: set[str] = set()

    def knows(self, key: str) -> bool:
        """Whether `key` is one of the known keys (existing or expected)."""
        i = bisect.bisect_left(self.keys, key)
        return i < len(self.keys) and self.keys[i] == key

    def add(self, key: str) -> None:
        if not self.knows(key):
            bisect.insort(self.keys, key)

    def plan(
        self, watched: Callable[[str], bool], request_cost: int = REQUEST_COST
    ) -> tuple[list[KeyRange] | None, int]:
        """The ranges to list so that every watched key is covered (None: one listing of the whole
        prefix, when that costs no more; no watched key at all: no range), and their cost in keys."""
        runs: list[list[int]] = []  # [first index, last index, existing keys, watched keys not existing]
        gap = 0  # existing unwatched keys since the last run
        for i, key in enumerate(self.keys):
            exists = key in self.existing
            if not watched(key):
                gap += exists
                continue
            if runs and gap < request_cost:
                run = runs[-1]
                run[1], run[2], run[3] = i, run[2] + gap + exists, run[3] + (not exists)
            else:
                runs.append([i, i, int(exists), int(not exists)])
            gap = 0
        total = len(self.existing)
        full = max(1, math.ceil(total / PAGE)) * request_cost + total
        ranges, cost = [], 0
        for first, last, inside, new in runs:
            # Room for keys created since the last look; asking for too many only costs the keys past
            # the run's end, an extra page costs a request: half a request's worth of room at most.
            expected = inside + SLACK + min(new, request_cost // 2)
            cost += math.ceil(expected / PAGE) * request_cost + inside
            end = self.keys[last] if last < len(self.keys) - 1 else None
            shared = _shared_prefix(self.keys[first], end) if end is not None else self.prefix
            ranges.append(
                KeyRange(
                    self.keys[first - 1] if first > 0 else None,
                    end,
                    expected,
                    shared if len(shared) > len(self.prefix) else None,
                )
            )
        return (None, full) if runs and cost >= full else (ranges, cost)

    def seen(self, returned: Iterable[str], after: str | None, through: str | None) -> None:
        """A listing covered the keys after `after` through `through` (None: to the end) and returned
        `returned`: those exist, the other known keys in that stretch do not (any more)."""
        got = set(returned)
        for key in got:
            self.add(key)
        lo = 0 if after is None else bisect.bisect_right(self.keys, after)
        hi = len(self.keys) if through is None else bisect.bisect_right(self.keys, through)
        self.existing.difference_update(key for key in self.keys[lo:hi] if key not in got)
        self.existing |= got


def _shared_prefix(a: str, b: str) -> str:
    """The longest prefix of both (every key sorted between them has it too)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def list_range(
    client: Any, bucket: str, prefix: str, rng: KeyRange | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The objects of one range (None: the whole `prefix`), paged, and the last key the listing
    covered (None: it reached the end of `prefix`). Stops paging once past `rng.last`."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if rng is not None:
        if rng.prefix is not None:
            kwargs["Prefix"] = rng.prefix
        if rng.start_after is not None:
            kwargs["StartAfter"] = rng.start_after
        if rng.last is not None:
            kwargs["MaxKeys"] = min(PAGE, max(1, rng.expected))
    out: list[dict[str, Any]] = []
    while True:
        page = client.list_objects_v2(**kwargs)
        out.extend(page.get("Contents", ()))
        if not page.get("IsTruncated"):
            if rng is None or rng.prefix is None:
                return out, None
            # the end of the range's own prefix: everything up to its last key was covered
            return out, max(rng.last or "", out[-1]["Key"] if out else "") or None
        if rng is not None and rng.last is not None and out and out[-1]["Key"] >= rng.last:
            return out, out[-1]["Key"]
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
        kwargs.pop("StartAfter", None)
        if "MaxKeys" in kwargs:
            kwargs["MaxKeys"] = PAGE if rng is None or rng.last is None else min(PAGE, 2 * kwargs["MaxKeys"])
