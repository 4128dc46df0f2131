"""The websocket server (built by the server issue; empty until then)."""
