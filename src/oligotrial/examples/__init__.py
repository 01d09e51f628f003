"""Example patient records shipped with oligotrial (one eligible and one not per trial, plus edge cases)."""
