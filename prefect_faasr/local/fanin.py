"""The fan-in gate of an action with several predecessor instances (contract §5.3).

Each predecessor triggers the join once. An invocation runs only if it sees every predecessor's
`.done` in one listing of the invocation folder (logging store, at most 1000 keys) and is the first
to append its random number to `{F}/{A}.candidate` under the S3 spin lock (`{F}/{A}/flag/{n}` +
`{F}/{A}/lock`). Every other invocation exits 0 without writing a log.

With more than PRECHECK predecessors the gate first looks up (HEAD) the `.done` of the last few, the
ones most likely to finish last: when one is missing, the listing could not have shown it either, so
the invocation aborts as the engine would, without listing. At scale this matters: a 1000-rank fan-out
triggers its join 1000 times, and many of those invocations arrive before the last rank is done; a
listing of 1000 keys costs the local S3 and the activation about 0.3 s of CPU each, a HEAD ~2 ms. The
only visible difference is the stdout line, which may name a later predecessor than the engine's
(the first missing one in predecessor order); smaller fan-ins list exactly as the engine does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from prefect_faasr.local.actionlog import LOCK, PAYLOAD, ActionLog, read_text

# The engine backs off 1, 2, 4, 8, 16 s then 16 s steps; the local runtime keeps the pattern at a
# local scale (same semantics, shorter waits).
BACKOFF = (0.05, 0.1, 0.2, 0.4, 0.8)
MAX_TRIES = 40
PRECHECK = 3  # larger fan-ins look up this many `.done` files (the last ones) before listing


class GateClosed(Exception):
    """This invocation must not run; `code` is the exit code (0 for the normal fan-in aborts)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _pause(tries: int, rng: random.Random, sleep: Callable[[float], None]) -> None:
    # Jitter keeps two contenders from backing off in lockstep forever.
    sleep(BACKOFF[min(tries, len(BACKOFF) - 1)] * rng.uniform(0.5, 1.5))


def gate(
    client: Any,
    bucket: str,
    folder: str,
    action: str,
    predecessors: list[str],
    log: ActionLog,
    *,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return if this invocation runs the join; raise `GateClosed` otherwise.

    `predecessors` are `.done` stems (`name` or `name.r`).
    """
    rng = rng or random.SystemRandom()
    late = predecessors[-PRECHECK:] if len(predecessors) > PRECHECK else []
    for pre in reversed(late):
        if _missing(client, bucket, f"{folder}/function_completions/{pre}.done"):
            log.error(PAYLOAD, f"Missing .done file for predecessor: {pre} \u2014 aborting.")
            raise GateClosed(0, "fan-in: predecessors not done")
    listing = client.list_objects_v2(Bucket=bucket, Prefix=folder)
    keys = {o["Key"] for o in listing.get("Contents", [])}
    for pre in predecessors:
        if f"{folder}/function_completions/{pre}.done" not in keys:
            log.error(PAYLOAD, f"Missing .done file for predecessor: {pre} \u2014 aborting.")
            raise GateClosed(0, "fan-in: predecessors not done")
    mine = rng.randint(1, 2**31 - 1)
    candidate = f"{folder}/{action}.candidate"
    acquire(client, bucket, folder, action, log, rng=rng, sleep=sleep)
    try:
        text = read_text(client, bucket, candidate) or ""
        client.put_object(Bucket=bucket, Key=candidate, Body=f"{text}{mine}\n".encode())
        text = read_text(client, bucket, candidate) or ""
    finally:
        release(client, bucket, folder, action)
    first = text.split("\n", 1)[0].strip()
    if first != str(mine):
        log.error(PAYLOAD, "Not the last trigger invoked \u2014 random number does not match")
        raise GateClosed(0, "fan-in: lost the candidate race")


def _missing(client: Any, bucket: str, key: str) -> bool:
    """True when S3 says the object does not exist (any other answer leaves it to the listing)."""
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")
    return False


def _try_lock(
    client: Any, bucket: str, folder: str, action: str, log: ActionLog, rng: random.Random, sleep: Callable
) -> bool:
    flag_content = rng.randint(1, 2**31 - 1)
    flag_prefix = f"{folder}/{action}/flag"
    flag = f"{flag_prefix}/{flag_content}"
    lock = f"{folder}/{action}/lock"
    tries = 0
    while True:
        client.put_object(Bucket=bucket, Key=flag, Body=b"")
        pool = [
            o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=flag_prefix).get("Contents", [])
        ]
        if pool != [flag]:
            client.delete_object(Bucket=bucket, Key=flag)
            tries += 1
            if tries > MAX_TRIES:
                log.error(LOCK, "Lock Timeout")
                raise GateClosed(1, "fan-in: lock timeout")
            _pause(tries, rng, sleep)
            continue
        held = client.list_objects_v2(Bucket=bucket, Prefix=lock).get("Contents", [])
        if not held:
            client.put_object(Bucket=bucket, Key=lock, Body=str(flag_content).encode())
            client.delete_object(Bucket=bucket, Key=flag)
            return True
        client.delete_object(Bucket=bucket, Key=flag)
        log.info(LOCK, "FAILED TO ACQUIRE S3 LOCK")
        return False


def acquire(
    client: Any,
    bucket: str,
    folder: str,
    action: str,
    log: ActionLog,
    *,
    rng: random.Random,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Take the S3 spin lock of `{F}/{A}` (raises `GateClosed(1)` on timeout)."""
    tries = 0
    while not _try_lock(client, bucket, folder, action, log, rng, sleep):
        tries += 1
        if tries > MAX_TRIES:
            log.error(LOCK, "LOCK ACQUIRE TIMEOUT")
            raise GateClosed(1, "fan-in: lock timeout")
        log.info(LOCK, "MAX SPIN WAIT PERIOD" if tries > len(BACKOFF) else "LOCK SPINNING")
        _pause(tries, rng, sleep)


def release(client: Any, bucket: str, folder: str, action: str) -> None:
    client.delete_object(Bucket=bucket, Key=f"{folder}/{action}/lock")
