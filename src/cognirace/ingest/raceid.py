"""Race ids: ``<track>-<session>``, dated where that name is not unique.

Rule (deterministic, independent of the order of folders):

* the id is ``<track>-<session>`` (``barber-R1``);
* when two races of one ingest share that name, every one of them gets the dated form
  ``<track>-<YYYY-MM-DD>-<session>`` (``barber-2025-07-20-R1``);
* when the lake already holds a race of that name from another event (another date),
  the new race gets the dated form and the one in the lake keeps its id;
* a race of the same event (same date, or same source folder when the date is unknown)
  keeps the id it has in the lake, dated or not, so ingesting it again replaces it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import polars as pl

from cognirace.errors import DataError


@dataclass(frozen=True)
class RaceKey:
    """What identifies a race for naming.

    Attributes:
        track: Track key.
        session: ``R1`` or ``R2``.
        date: Event date, if known.
        source_dir: Folder the race was read from.
    """

    track: str
    session: str
    date: dt.date | None
    source_dir: str

    @property
    def base(self) -> str:
        """``<track>-<session>``."""
        return f"{self.track}-{self.session}"

    def dated(self) -> str:
        """``<track>-<date>-<session>``; needs the date."""
        if self.date is None:
            raise DataError(
                f"two races are named {self.base!r} and this one has no date",
                path=self.source_dir,
                hint="ingest the folders into separate lakes, or add the telemetry or "
                     "weather file that carries the date",
            )
        return f"{self.track}-{self.date.isoformat()}-{self.session}"

    def same_event(self, date: dt.date | None, source_dir: str) -> bool:
        """Whether a lake race with this date and folder is this race."""
        if self.date is not None and date is not None:
            return self.date == date
        return self.source_dir == source_dir


def assign_race_ids(keys: list[RaceKey], existing: pl.DataFrame) -> list[str]:
    """The id of each race of an ingest, following the module's rule.

    Args:
        keys: The races of this ingest.
        existing: The lake's ``races`` table (possibly empty).

    Raises:
        DataError: when one race appears twice in the ingest, or two races cannot be
            told apart.
    """
    by_base: dict[str, list[RaceKey]] = defaultdict(list)
    for key in keys:
        by_base[key.base].append(key)
    lake_rows = {
        row["race_id"]: row for row in existing.select("race_id", "date", "source_dir").to_dicts()
    }
    ids: list[str] = []
    for key in keys:
        group = by_base[key.base]
        if len(group) > 1:
            ids.append(key.dated())
            continue
        if key.date is not None and key.dated() in lake_rows:
            ids.append(key.dated())
            continue
        old = lake_rows.get(key.base)
        if old is None or key.same_event(old["date"], old["source_dir"]):
            ids.append(key.base)
        else:
            ids.append(key.dated())
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        race_id = sorted(duplicates)[0]
        dirs = [k.source_dir for k, i in zip(keys, ids, strict=True) if i == race_id]
        raise DataError(
            f"the same race {race_id!r} is in more than one folder", value=dirs,
            hint="ingest one copy of each race",
        )
    return ids


__all__ = ["RaceKey", "assign_race_ids"]
