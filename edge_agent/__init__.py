"""robocover-agent: runs on the robot controller, measures, stores, and publishes over MQTT."""
