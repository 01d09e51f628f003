"""oligotrial.adapters.web."""
