"""One module per `kayako-voice` subcommand; each exposes `run(args) -> int`."""
