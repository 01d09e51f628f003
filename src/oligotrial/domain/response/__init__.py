"""Tumour response over time: RECIST 1.1, iRECIST, trial-specific progression and site counting,
the ESTRO-EORTC oligometastatic state, and endpoints."""
