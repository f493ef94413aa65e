"""Failpoints: named places where the fault suite makes a process crash, stop or fail at an exact moment.

A failpoint is off unless `NEWSWIRE_FAILPOINTS` names it, so in production each call is one dictionary lookup.
The variable holds comma-separated `name=action[@hit]` items, for example
`NEWSWIRE_FAILPOINTS="worker.stored=kill@3"`: the third time the worker passes `worker.stored` it kills itself
with SIGKILL. Actions:

- `kill`  SIGKILL this process (a crash: nothing is flushed, closed or committed)
- `stop`  SIGSTOP this process (a freeze, as under a long GC pause or a stalled VM; SIGCONT resumes it)
- `term`  SIGTERM this process (a polite stop requested at that exact point)
- `raise` raise `FailpointError` (an unexpected bug in that code path)

The places are listed in `docs/faults.md`. Like etcd's gofail or TiKV's fail-rs, this exists so crash tests hit
the windows that matter (after consuming, after the store write, after publishing but before the commit)
deterministically instead of by timing luck.
"""

from __future__ import annotations

import os
import signal
import threading

__all__ = ["FailpointError", "failpoint", "reload"]

_ENV = "NEWSWIRE_FAILPOINTS"
_lock = threading.Lock()
_armed: dict[str, tuple[str, int]] = {}
_hits: dict[str, int] = {}


class FailpointError(RuntimeError):
    """Raised by a failpoint armed with the `raise` action."""


def reload(spec: str | None = None) -> None:
    """(Re)read the armed failpoints from `spec` or the environment; resets hit counts."""
    spec = os.environ.get(_ENV, "") if spec is None else spec
    armed: dict[str, tuple[str, int]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, action = item.partition("=")
        action, _, hit = action.partition("@")
        if action not in ("kill", "stop", "term", "raise") or not name:
            raise ValueError(f"bad failpoint {item!r} in {_ENV}: expected name=kill|stop|term|raise[@N]")
        armed[name] = (action, int(hit or 1))
    with _lock:
        _armed.clear()
        _armed.update(armed)
        _hits.clear()


def failpoint(name: str) -> None:
    """Trigger the action armed for `name`, if any, on its configured hit."""
    if not _armed:
        return
    with _lock:
        armed = _armed.get(name)
        if armed is None:
            return
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] != armed[1]:
            return
    action = armed[0]
    if action == "raise":
        raise FailpointError(f"failpoint {name} triggered")
    os.kill(os.getpid(), {"kill": signal.SIGKILL, "stop": signal.SIGSTOP, "term": signal.SIGTERM}[action])


reload()
