"""oligotrial.adapters."""
