"""The database foundation shared by the cloud components: metadata, engines."""
