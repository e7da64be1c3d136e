"""Calculations of a received export: Beast Modes, DataFlow steps and their flaws.

- analysis.py: the analyses recorded per manifest (run at intake, re-run on a new engine version);
- reports.py: how an analysis is shown (formula reports, marked spans, flaw titles, schemas).
"""
