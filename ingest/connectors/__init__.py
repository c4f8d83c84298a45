"""Connectors for robots that cannot run our agent: they poll a vendor's diagnostics API and
feed the same path as an agent (signed, chained batches over MQTT to the ingest)."""
