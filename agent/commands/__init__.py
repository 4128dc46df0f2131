"""CLI command modules: each has ``register(groups)`` (see ``agent.cli.CommandGroups``)."""
