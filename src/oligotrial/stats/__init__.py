"""oligotrial.stats."""
