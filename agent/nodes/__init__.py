"""Graph nodes: one small function per step, each returning a partial state update."""
