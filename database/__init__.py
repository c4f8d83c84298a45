"""The database layer every cloud component shares: the one metadata and its tables, engines,
the cloud's shared settings and logging. It imports only firmware_protocol of ours; ingest,
risk_engine, cloud_api and migrations import it (the contracts in pyproject.toml)."""
