"""The wire contract between robot and cloud. Imports nothing of robocover's, nothing server-side."""
