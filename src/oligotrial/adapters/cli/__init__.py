"""oligotrial.adapters.cli."""
