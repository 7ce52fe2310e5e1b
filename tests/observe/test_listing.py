"""Listing planner (prefect_faasr.listing): pure planning, and ranges listed against moto."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from prefect_faasr.listing import PAGE, KeyRange, KeySpace, list_range

P = "F/"


def space(n: int, existing: range | list[int]) -> KeySpace:
    ks = KeySpace(P, [f"{P}k{i:04d}" for i in range(n)])
    ks.existing = {f"{P}k{i:04d}" for i in existing}
    return ks


def covers(rng: KeyRange, key: str) -> bool:
    return (rng.start_after is None or key > rng.start_after) and (rng.last is None or key <= rng.last)


def test_watched_keys_far_apart_get_their_own_ranges_and_skip_the_rest() -> None:
    ks = space(1000, range(1000))
    watched = {f"{P}k0100", f"{P}k0101", f"{P}k0700"}
    ranges, cost = ks.plan(watched.__contains__, request_cost=100)
    assert ranges == [  # each listed under the prefix its keys share: the listing stops where they end
        KeyRange(f"{P}k0099", f"{P}k0101", 2 + 10, f"{P}k010"),
        KeyRange(f"{P}k0699", f"{P}k0700", 1 + 10, f"{P}k0700"),
    ]
    assert cost == 2 * 100 + 3 < 1 * 100 + 1000


def test_runs_closer_than_a_request_are_merged_and_new_keys_get_room() -> None:
    ks = space(1000, range(500))  # k0500.. do not exist yet (instances not started)
    watched = {f"{P}k0010", f"{P}k0050", f"{P}k0600", f"{P}k0601"}
    ranges, _ = ks.plan(watched.__contains__, request_cost=100)
    # k0010..k0050: 39 existing keys between them < 100, merged; k0600 is far (449 existing keys away)
    assert ranges is not None and len(ranges) == 2
    assert ranges[0] == KeyRange(f"{P}k0009", f"{P}k0050", 41 + 10, f"{P}k00")
    assert ranges[1].start_after == f"{P}k0599" and ranges[1].last == f"{P}k0601"
    assert ranges[1].expected == 0 + 10 + 2  # two watched keys may appear


def test_the_whole_prefix_when_that_is_cheaper_and_nothing_when_nothing_is_watched() -> None:
    ks = space(300, range(300))
    assert ks.plan(lambda key: key != f"{P}k0150", request_cost=100)[0] is None
    assert ks.plan(lambda key: False) == ([], 0)
    # the last run reaching the end of the keys lists to the end of the prefix
    ranges, _ = ks.plan(lambda key: key >= f"{P}k0290", request_cost=5)
    assert ranges == [KeyRange(f"{P}k0289", None, 10 + 10)]


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 400),
    data=st.data(),
    request_cost=st.integers(1, 200),
)
def test_every_watched_key_is_covered_and_a_plan_never_costs_more_than_listing_all(
    n: int, data: st.DataObject, request_cost: int
) -> None:
    existing = data.draw(st.sets(st.integers(0, n - 1)))
    watched_i = data.draw(st.sets(st.integers(0, n - 1)))
    ks = space(n, sorted(existing))
    watched = {f"{P}k{i:04d}" for i in watched_i}
    ranges, cost = ks.plan(watched.__contains__, request_cost)
    full = max(1, math.ceil(len(existing) / PAGE)) * request_cost + len(existing)
    if ranges is None:
        assert cost == full and watched
        return
    assert cost <= full
    for key in watched:
        assert any(covers(r, key) and key.startswith(r.prefix or P) for r in ranges), key
    assert all(r.expected >= 1 for r in ranges)
    ends = [r.last for r in ranges]
    assert ends == sorted(e for e in ends if e is not None) + [e for e in ends if e is None]


def test_seen_learns_new_keys_and_forgets_deleted_ones_only_where_it_looked() -> None:
    ks = space(10, range(10))
    ks.seen([f"{P}k0003", f"{P}k0005", f"{P}k0004a"], after=f"{P}k0002", through=f"{P}k0005")
    assert f"{P}k0004" not in ks.existing  # inside the stretch, not returned: gone
    assert {f"{P}k0003", f"{P}k0005", f"{P}k0000", f"{P}k0009"} <= ks.existing  # outside: unchanged
    assert f"{P}k0004a" in ks.keys and f"{P}k0004a" in ks.existing
    assert ks.keys == sorted(ks.keys)
    ks.seen([f"{P}k0009"], after=f"{P}k0007", through=None)  # to the end of the prefix
    assert f"{P}k0008" not in ks.existing and f"{P}k0009" in ks.existing and f"{P}k0004a" in ks.existing


def test_a_range_is_listed_from_after_its_start_and_stops_once_past_its_last_key(
    s3: Any, bucket: str
) -> None:
    keys = [f"{P}k{i:04d}" for i in range(60)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b""), keys))
    calls: list[dict[str, Any]] = []
    event = "provide-client-params.s3.ListObjectsV2"
    s3.meta.events.register(event, lambda params, **_: calls.append(dict(params)))

    objs, through = list_range(s3, bucket, P, KeyRange(f"{P}k0009", f"{P}k0030", expected=5))
    got = [o["Key"] for o in objs]
    assert got[0] == f"{P}k0010" and f"{P}k0030" in got  # pages until past the last key
    assert through == got[-1] and got[-1] >= f"{P}k0030" and len(got) < 40
    assert calls[0]["StartAfter"] == f"{P}k0009" and calls[0]["MaxKeys"] == 5 and len(calls) > 1

    # under a narrower prefix the listing ends where that prefix does
    objs, through = list_range(s3, bucket, P, KeyRange(f"{P}k0011", f"{P}k0012", 50, f"{P}k001"))
    assert [o["Key"] for o in objs] == keys[12:20] and through == f"{P}k0019" and len(calls) == 4

    objs, through = list_range(s3, bucket, P, KeyRange(f"{P}k0049", None, expected=3))
    assert [o["Key"] for o in objs] == keys[50:] and through is None
    objs, through = list_range(s3, bucket, P, None)
    assert [o["Key"] for o in objs] == keys and through is None
