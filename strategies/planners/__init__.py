"""Strategy planners (the ``strategy_planner`` role)."""
