"""The engines' shared item feed: lazy input items first come after items lost with a dead worker, which are
submitted again up to ``MAX_ATTEMPTS`` times and then fail with reason ``worker_died``."""
from __future__ import annotations

from collections.abc import Iterable

from .inputs import Item
from .worker import ItemResult

MAX_ATTEMPTS = 3


class Feed:
    """``next()`` -> the next item to submit (None when there is none now); ``lost(item)`` when a worker died
    holding it."""

    def __init__(self, items: Iterable[Item], engine: str):
        self.items, self.engine = iter(items), engine
        self.retry: list[Item] = []
        self.attempts: dict[int, int] = {}  # only items that were lost: empty in a healthy run
        self.exhausted = False
        self.resubmitted = 0

    @property
    def more(self) -> bool:
        return bool(self.retry) or not self.exhausted

    def next(self) -> Item | None:
        if self.retry:
            return self.retry.pop()
        item = next(self.items, None) if not self.exhausted else None
        self.exhausted = item is None
        return item

    def lost(self, item: Item, why: str = "") -> ItemResult | None:
        """Schedule ``item`` again, or (at the last attempt) its ``worker_died`` result."""
        n = self.attempts[item.index] = self.attempts.get(item.index, 0) + 1
        if n >= MAX_ATTEMPTS:
            return ItemResult(item, "failed", reason="worker_died",
                              message=f"{item.item}: the {self.engine} worker died on it {n} times{why}")
        self.resubmitted += 1
        self.retry.append(item)
        return None
