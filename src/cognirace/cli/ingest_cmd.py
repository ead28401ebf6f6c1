"""``cognirace ingest``: placeholder until the ingest layer lands."""
