"""The live half: a race streamed in, every car's state, the models' answers and events.

``parse_frame`` checks a frame and turns it into the lake's rows; ``RaceEngine`` follows
one race from its frames; ``race_frames`` replays a lake race as the stream it was.
"""

from cognirace.realtime.engine import Ack, Models, RaceEngine
from cognirace.realtime.events import TYPES, Event, EventLog
from cognirace.realtime.frames import ClockOffsets, Frame, FrameError, parse_frame
from cognirace.realtime.replay import race_frames, race_info
from cognirace.realtime.tower import CarState, Entry, RaceInfo, Tower

__all__ = ["TYPES", "Ack", "CarState", "ClockOffsets", "Entry", "Event", "EventLog", "Frame",
           "FrameError", "Models", "RaceEngine", "RaceInfo", "Tower", "parse_frame",
           "race_frames", "race_info"]
