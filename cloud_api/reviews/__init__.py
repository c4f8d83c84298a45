"""Review cases: what the ingest found suspicious about a robot, decided by staff."""
