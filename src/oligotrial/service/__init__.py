"""oligotrial.service."""
