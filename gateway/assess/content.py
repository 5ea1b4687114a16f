"""What a radar's feed carries: records per category, the items present in them (by the
category's UAP), the edition they were decoded as, and the decoder's problems.

Why: a feed that leaves out I220 or I161, or sends an edition the network does not read,
fails integration before any accuracy figure matters.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from gateway.asterix import CATEGORIES
from gateway.decoder import Batch, Problems

Key = tuple[int, int]


class Content:
    def __init__(self) -> None:
        # (sac, sic) -> category -> item -> records with it; and records per category
        self.items: dict[Key, dict[int, Counter[str]]] = {}
        self.records: dict[Key, Counter[int]] = {}
        self.problems = Problems()
        self.unknown_sources: Counter[str] = Counter()

    def observe(self, batches: dict[int, Batch], problems: Problems,
                wanted: set[Key]) -> None:
        self.problems.add(problems)
        for category, b in batches.items():
            if category not in (34, 48):
                continue
            uap = CATEGORIES[category].uap
            ok = b.present["010/SAC"]
            keys = np.where(ok, b.columns["010/SAC"].astype(np.int64) * 256
                            + b.columns["010/SIC"], -1)
            for k in np.unique(keys).tolist():
                rows = keys == k
                if k < 0:
                    self.unknown_sources[f"cat{category:03d}-no-source"] += int(rows.sum())
                    continue
                key = (k >> 8, k & 0xFF)
                if key not in wanted:
                    continue
                present = (b.item_start[rows] != 0).sum(axis=0)
                counts = self.items.setdefault(key, {}).setdefault(category, Counter())
                for frn, n in enumerate(present.tolist()):
                    item = uap[frn] if frn < len(uap) else None
                    if n and item is not None and item != "-":
                        counts[item] += n
                self.records.setdefault(key, Counter())[category] += int(rows.sum())

    def figures(self, key: Key) -> dict[str, object]:
        cats = self.items.get(key, {})
        recs = self.records.get(key, Counter())
        return {f"cat{c:03d}": {"records": recs[c], "edition": CATEGORIES[c].edition,
                                "items": {item: n for item, n in sorted(cats[c].items())}}
                for c in sorted(cats)}
