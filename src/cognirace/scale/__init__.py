"""Where batch work runs: in this process, or as Ray tasks on a cluster.

Batch work in CogniRace is per race (simulate, ingest, backtest) or per model
(train), and each piece is independent of the others. A command states its pieces
as a list of small, picklable items and a module-level function, and hands both to an
``Engine``; the engine decides where they run. ``LocalEngine`` runs them here, one
after the other, exactly as the commands did before there was a choice;
``RayEngine`` runs each as a Ray task (or on a Ray actor that keeps what is costly to
load, such as models) on a local Ray or on any cluster by address.

What goes through an engine is small: paths, seeds, configs and reports. Data moves
as files, on storage every worker sees (the lake, the season's folder, the registry)
or at an fsspec URL (``storage``: one interface for folders and buckets; ``remote``:
whole files moved between a node's disk and a bucket, published so that no reader
takes part of a set), so the driver's memory does not grow with the number of races.

Ray is an optional dependency (``pip install -e '.[ray]'``) imported only when a Ray
engine is opened.
"""

from cognirace.scale.engine import (
    ENGINES,
    Engine,
    LocalEngine,
    in_order,
    largest_first,
    open_engine,
)

__all__ = ["ENGINES", "Engine", "LocalEngine", "in_order", "largest_first", "open_engine"]
