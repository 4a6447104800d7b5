"""Which model answers a request: champion only, an A/B split, or champion with a shadow challenger.

The arm is a deterministic function of a routing key, so one client (or one event) always
meets the same model and the split can be replayed from the log.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

Mode = Literal["champion", "ab", "shadow"]
MODES: tuple[str, ...] = ("champion", "ab", "shadow")


def routing_bucket(key: str) -> float:
    """A uniform number in [0, 1) fixed by ``key`` (BLAKE2b: stable across processes and Python versions)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def event_routing_key(routing_key: str | None, event_id: str | None, event_fields: dict) -> str:
    """The request's routing key, else its event id, else a hash of the event's content."""
    if routing_key:
        return routing_key
    if event_id:
        return event_id
    return json.dumps(event_fields, sort_keys=True, default=str)


@dataclass(frozen=True)
class Router:
    mode: Mode = "champion"
    challenger_share: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"routing mode must be one of {MODES}, got {self.mode!r}")
        if not 0.0 <= self.challenger_share <= 1.0:
            raise ValueError(f"challenger share must be within [0, 1], got {self.challenger_share}")

    def answering_variant(self, key: str) -> str:
        """``challenger`` for the keys in the challenger's share under A/B, ``champion`` otherwise."""
        if self.mode == "ab" and routing_bucket(key) < self.challenger_share:
            return "challenger"
        return "champion"

    @property
    def shadows(self) -> bool:
        """Whether the challenger also scores every request, unseen by the client."""
        return self.mode == "shadow"
