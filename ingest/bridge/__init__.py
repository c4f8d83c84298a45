"""The MQTT to TimescaleDB bridge (`robocover ingest`).

A message travels: source (MQTT, manual acks) -> judge (decode, verify, chain) -> flush (one
transaction: COPY, rollups, events, receipts, gaps, dead letters) -> commit -> broker acks and
robot acks. Pure kernels (copy_format, rollups, samples) are kept apart from the I/O.
"""
