"""The websocket server: the protocol, the connections, the HTTP pages, the session store."""
