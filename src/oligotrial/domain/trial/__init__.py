"""Trial operations: what happens to a participant between consent and the data cut.

Owns: the enrolment workflow's states and transitions and the radiotherapy decision
(:mod:`.workflow`); the visit schedule derived from its anchors (:mod:`.schedule`); the
participant's follow-up derived from what is stored: the record in force, the state, day 0 and
the checks of an entry against the milestones (:mod:`.followup`); the participant's endpoints,
the trial's facts joined to the response derivation (:mod:`.outcomes`); randomization algorithms
with an injected generator, permuted blocks and minimisation (:mod:`.randomization`); blinding
roles and what each may see (:mod:`.blinding`); the audit hash chain (:mod:`.audit`).

Depends on: ``protocol``, ``response`` (endpoint derivation, for :mod:`.outcomes`), ``record``,
``kernel``. Nothing else in the domain uses it: the service layer joins the rest of the trial's
operations to the clinical contexts.
"""

from oligotrial.domain.kernel import lazy_exports

#: public name -> the sub-module that defines it (a public sub-module maps to itself)
_EXPORTS = {
    "audit": "audit",
    "blinding": "blinding",
    "followup": "followup",
    "outcomes": "outcomes",
    "queries": "queries",
    "randomization": "randomization",
    "schedule": "schedule",
    "workflow": "workflow",
    "ChainReport": "audit",
    "GENESIS": "audit",
    "canonical_parts": "audit",
    "canonical_template": "audit",
    "fill_marker": "audit",
    "link_hash": "audit",
    "split_at_marker": "audit",
    "verify_chain": "audit",
    "ROLES": "blinding",
    "Role": "blinding",
    "sees_arms": "blinding",
    "find_arm_information": "blinding",
    "is_blinded": "blinding",
    "radiotherapy_view": "blinding",
    "Participant": "workflow",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
