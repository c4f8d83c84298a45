"""The insurer-facing API (FastAPI) and the `robocover` command line."""
