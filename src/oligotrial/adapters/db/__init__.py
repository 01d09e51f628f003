"""oligotrial.adapters.db."""
