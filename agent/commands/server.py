"""``attune serve`` and ``attune client``: the websocket server (see the server issue).

Importing this module stays cheap (argparse only); handlers import what they need.
"""

from __future__ import annotations

from typing import Any


def register(groups: Any) -> None:
    """Add the commands to the ``attune`` parser (filled by the issue's work)."""
