"""oligotrial.adapters.io."""
