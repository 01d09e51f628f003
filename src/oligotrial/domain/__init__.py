"""Pure domain logic: no I/O, no framework. One sub-package per clinical context.

========================  =====================================================================
``kernel``                explained values, input checks, lazy public surfaces
``record``                the patient record and its entries, units, scores, CTCAE
``response``              RECIST 1.1, iRECIST, trial progression and counting, oligo-state,
                          endpoints
``radiotherapy``          dose (LQ, BED/EQD2), re-irradiation, OAR constraints, DVH,
                          prescription checks, geometry
``eligibility``           Kleene logic, criterion leaves by topic, screening
``trial``                 workflow, randomization, blinding, audit chain
========================  =====================================================================

A context may import only those below it (``tests/unit/architecture`` enforces it, with no
import cycle anywhere): eligibility -> response, radiotherapy -> record -> kernel; trial ->
record -> kernel. ``docs/architecture.md`` has the map.
"""
