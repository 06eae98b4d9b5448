"""Skill safety: what a distilled skill tells agents to do is checked, by code, before it is written.

``rules.yaml`` holds the rules (data, versioned); ``text`` normalises lines and finds
addresses; ``checks`` are the named checks a regex cannot express; ``review`` runs the
rules over a patch against S0 (withhold high, flag the rest) or over a whole skill
(``trace2skill validate``); ``trace`` finds the trajectories that carried a withheld
instruction. Plain Python, no Ray.
"""

from trace2skill.safety.review import Finding, SafetyReview, WithheldEdit, review_parts, review_skill, start_review
from trace2skill.safety.rules import SafetyConfig, load_rules

__all__ = ["Finding", "SafetyConfig", "SafetyReview", "WithheldEdit", "load_rules", "review_parts", "review_skill", "start_review"]
