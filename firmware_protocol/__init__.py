"""The wire contract between robot and cloud. Imports nothing of ours, nothing server-side."""
