"""`python -m cloud_api`: the `robocover` command, for processes that start other processes."""

from cloud_api.cli import main

main()
