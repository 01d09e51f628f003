"""Eligibility: strong Kleene logic over criterion leaves, and screening a record against a protocol."""
