"""oligotrial.protocols."""
