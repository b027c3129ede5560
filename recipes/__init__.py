"""What is changed: the policy, per-source recipes and script templates.

Empty until the rewrite-engine issue; `archive` may import from here, never the
other way round.
"""
