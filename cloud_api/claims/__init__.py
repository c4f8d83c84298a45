"""Claims: from first notice of loss to payment, recovery and close, with the robot's own
telemetry as evidence."""
