"""Trial operations: the enrolment workflow, randomization, blinding roles and the audit chain."""
