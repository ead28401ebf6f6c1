"""The seven GR Cup tracks and their published facts.

Figures come from ``REFERENCE.md``: length, pit-lane transit time, best race lap (measured
where the data set has the track, estimated elsewhere with a tolerance), the laps a
45-minute race gives and an approximate GPS anchor. The simulator calibrates against
them and the ingest uses the aliases to recognise a track from folder and file names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Track:
    """One circuit.

    Attributes:
        key: Short lower-case key used in ``race_id`` and file names (``barber``).
        name: Full circuit name.
        length_km: Lap length in kilometres.
        pit_transit_s: Time to drive the pit lane at the limiter, entry to exit, seconds.
        best_lap_s: Best race lap of a GR86 cup car, seconds.
        best_lap_tol: Relative tolerance on ``best_lap_s`` (0.0 where it was measured;
            calibration then uses 1%).
        laps_45min: Laps a 45-minute race gives the leader.
        lat_deg: Latitude of the GPS anchor, degrees.
        lon_deg: Longitude of the GPS anchor, degrees.
        aliases: Lower-case names by which folders and files refer to the track.
        has_ath: Whether the data set carries the throttle-blade channel ``ath`` here.
        has_gps: Whether the data set carries the VBOX GPS channels here.
        overtake_difficulty: 0 (easy) to 1 (very hard) scale of how hard passing is.
    """

    key: str
    name: str
    length_km: float
    pit_transit_s: float
    best_lap_s: float
    best_lap_tol: float
    laps_45min: int
    lat_deg: float
    lon_deg: float
    aliases: tuple[str, ...]
    has_ath: bool
    has_gps: bool
    overtake_difficulty: float

    @property
    def length_m(self) -> float:
        """Lap length in metres."""
        return self.length_km * 1000.0

    @property
    def best_lap_window_s(self) -> tuple[float, float]:
        """The calibration window for the best race lap, seconds (low, high)."""
        tol = self.best_lap_tol if self.best_lap_tol > 0 else 0.01
        return (self.best_lap_s * (1 - tol), self.best_lap_s * (1 + tol))


TRACKS: dict[str, Track] = {
    t.key: t
    for t in (
        Track("barber", "Barber Motorsports Park", 3.675, 34.0, 97.4, 0.0, 27,
              33.532, -86.619, ("barber", "barber-motorsports-park", "barber motorsports park"),
              has_ath=True, has_gps=False, overtake_difficulty=0.7),
        Track("cota", "Circuit of the Americas", 5.498, 36.0, 146.0, 0.03, 19,
              30.133, -97.641, ("cota", "circuit of the americas", "circuit-of-the-americas"),
              has_ath=False, has_gps=True, overtake_difficulty=0.3),
        Track("indianapolis", "Indianapolis Motor Speedway road course", 3.925, 63.0, 100.4,
              0.0, 23, 39.795, -86.235, ("indianapolis", "indy", "ims",
                                          "indianapolis motor speedway"),
              has_ath=True, has_gps=True, overtake_difficulty=0.4),
        Track("road_america", "Road America", 6.460, 52.0, 156.0, 0.03, 17,
              43.798, -87.990, ("road_america", "road america", "road-america", "roadamerica"),
              has_ath=False, has_gps=True, overtake_difficulty=0.25),
        Track("sebring", "Sebring International Raceway", 6.019, 39.0, 155.0, 0.03, 17,
              27.455, -81.348, ("sebring", "sebring international raceway"),
              has_ath=True, has_gps=False, overtake_difficulty=0.35),
        Track("sonoma", "Sonoma Raceway", 4.031, 45.0, 111.0, 0.03, 24,
              38.161, -122.455, ("sonoma", "sonoma raceway"),
              has_ath=False, has_gps=True, overtake_difficulty=0.65),
        Track("vir", "Virginia International Raceway", 5.263, 25.0, 131.0, 0.03, 20,
              36.569, -79.207, ("vir", "virginia international raceway", "virginia"),
              has_ath=True, has_gps=True, overtake_difficulty=0.5),
    )
}


def track_from_name(text: str) -> Track | None:
    """Find the track a folder or file name refers to, or ``None``.

    Matching is on whole alias words in the lower-cased text, longest alias first, so
    ``"Road America/Race 1"`` and ``R1_road_america_lap_end.csv`` both give Road America.
    """
    low = text.lower().replace("\\", "/")
    candidates = sorted(
        ((alias, track) for track in TRACKS.values() for alias in track.aliases),
        key=lambda pair: -len(pair[0]),
    )
    for alias, track in candidates:
        start = low.find(alias)
        while start != -1:
            end = start + len(alias)
            before = low[start - 1] if start > 0 else "/"
            after = low[end] if end < len(low) else "/"
            if not before.isalnum() and not after.isalnum():
                return track
            start = low.find(alias, start + 1)
    return None


__all__ = ["TRACKS", "Track", "track_from_name"]
