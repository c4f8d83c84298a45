"""The ingest bridge: MQTT to TimescaleDB. It also owns the database's base schema (tenants, robots,
telemetry, events), since it is where a robot's data enters the cloud; components to its right
(risk_engine, cloud_api) build on that schema."""
