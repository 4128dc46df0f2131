"""A module whose import fails, standing in for a backend whose extra is not installed."""

import definitely_not_installed_pkg  # noqa: F401
