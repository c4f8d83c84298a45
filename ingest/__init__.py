"""The ingest bridge: MQTT to TimescaleDB. It writes the base tables (tenants, robots, telemetry,
events) where a robot's data enters the cloud; the tables themselves are the database layer's
(database.models), which the risk engine and the API read too."""
