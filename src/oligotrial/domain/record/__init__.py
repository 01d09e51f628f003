"""The patient record and its entries (oligotrial.patient/1): validation, units, clinical scores, CTCAE."""
