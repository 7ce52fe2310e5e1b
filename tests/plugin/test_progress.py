"""The hand-over of a run's observer from the flow to the caller that started it (progress.claim)."""

from __future__ import annotations

import threading

from prefect_faasr import progress


def test_a_claim_gets_the_observer_registered_with_its_token() -> None:
    observer, other = object(), object()
    claim = progress.claim("token-1")
    assert not claim.done()
    progress.register("run-a", other, token="token-2")  # someone else's run
    progress.register("run-b", observer)  # no token: only the live display sees it
    assert not claim.done()
    threading.Thread(target=progress.register, args=("run-c", observer), kwargs={"token": "token-1"}).start()
    assert claim.result(timeout=5) == ("run-c", observer)
    assert progress.active()["run-c"] is observer
    progress.release("token-1")
    assert progress.claim("token-1") is not claim  # released: a new claim starts fresh
    progress.release("token-1")
    for name in ("run-a", "run-b", "run-c"):
        progress.unregister(name)
    assert not set(progress.active()) & {"run-a", "run-b", "run-c"}
