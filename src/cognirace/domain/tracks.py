"""The seven GR Cup tracks and their published facts.

Length, pit-lane transit, GPS anchor: ``REFERENCE.md``. Best race lap, laps of a 45-minute
race, pit transit and the logged channels are read from the real 2025 files
(``real/``): the best lap is the mean of the two races' best laps (Road America: Race 2's
dry 2:31.70, as Race 1 ran damp at 94% humidity, 9 s slower), the laps are the winners'
(mean of the two races, rounded down) and the transit is the shortest ``PIT_TIME``
(a drive-through) where it differs from the reference by more than a few seconds (VIR
42 s, Road America 47 s; Indianapolis keeps the reference's 63 s against a shortest real
``PIT_TIME`` of 56.1 s).
Channels: Barber logs ``aps`` and GPS, Sonoma and Road America ``ath`` and no GPS; the
tracks without telemetry in the set follow the season's order (COTA, Sebring and VIR
ran between Sonoma and Road America, Indianapolis after Barber). The simulator
calibrates against these figures (``bench/calibrate.py``) and the ingest uses the
aliases to recognise a track from folder and file names.
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
        has_aps: Whether the data set carries the accelerator pedal channel ``aps`` here.
        overtake_difficulty: 0 (easy) to 1 (very hard) scale of how hard passing is.
        timezone: IANA time zone of the circuit; the timing files' ``HOUR`` is local
            time of day there.
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
    timezone: str = "UTC"
    has_aps: bool = True

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
        Track("barber", "Barber Motorsports Park", 3.675, 34.0, 97.37, 0.0, 27,
              33.532, -86.619, ("barber", "barber-motorsports-park", "barber motorsports park"),
              has_ath=False, has_gps=True, overtake_difficulty=0.7,
              timezone="America/Chicago"),
        Track("cota", "Circuit of the Americas", 5.498, 36.0, 148.37, 0.0, 17,
              30.133, -97.641, ("cota", "circuit of the americas", "circuit-of-the-americas"),
              has_ath=True, has_gps=False, overtake_difficulty=0.3,
              timezone="America/Chicago", has_aps=False),
        Track("indianapolis", "Indianapolis Motor Speedway road course", 3.925, 63.0, 100.08,
              0.0, 24, 39.795, -86.235, ("indianapolis", "indy", "ims",
                                          "indianapolis motor speedway"),
              has_ath=False, has_gps=True, overtake_difficulty=0.4,
              timezone="America/Indiana/Indianapolis"),
        Track("road_america", "Road America", 6.460, 47.0, 151.70, 0.0, 16,
              43.798, -87.990, ("road_america", "road america", "road-america", "roadamerica"),
              has_ath=True, has_gps=False, overtake_difficulty=0.25,
              timezone="America/Chicago", has_aps=False),
        Track("sebring", "Sebring International Raceway", 6.019, 39.0, 145.25, 0.0, 17,
              27.455, -81.348, ("sebring", "sebring international raceway"),
              has_ath=True, has_gps=False, overtake_difficulty=0.35,
              timezone="America/New_York", has_aps=False),
        Track("sonoma", "Sonoma Raceway", 4.031, 45.0, 112.09, 0.0, 22,
              38.161, -122.455, ("sonoma", "sonoma raceway"),
              has_ath=True, has_gps=False, overtake_difficulty=0.65,
              timezone="America/Los_Angeles", has_aps=False),
        Track("vir", "Virginia International Raceway", 5.263, 42.0, 128.47, 0.0, 20,
              36.569, -79.207, ("vir", "virginia international raceway", "virginia"),
              has_ath=True, has_gps=False, overtake_difficulty=0.5,
              timezone="America/New_York", has_aps=False),
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
