"""Radiotherapy: LQ dose arithmetic, re-irradiation, organ-at-risk constraints, DVHs, prescription checks."""
