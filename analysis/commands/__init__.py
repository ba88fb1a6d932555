"""One module per `bcr` subcommand; each exposes a function registered in analysis/cli.py."""
