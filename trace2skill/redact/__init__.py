"""Secret redaction: replace credentials in trajectory text with ``[REDACTED:<kind>]``.

Trajectories come from agents that handle credentials, so every text field is
scanned before anything leaves ingest. Detection is deliberately narrow, because
trajectories are full of ids the analysts need (reservation codes ``VA5SGQ``, user ids
``mia_li_3668``, flight numbers ``HAT170``, git SHAs, UUIDs) that entropy detectors
mistake for secrets:

- well-known token *formats* (provider prefixes and lengths: OpenAI, Anthropic, AWS,
  GCP, GitHub, GitLab, Slack, Stripe, Hugging Face, npm, JWTs, PEM private keys);
- credentials in an anchored *position*: ``Authorization: Bearer``/``Basic``, the
  password of ``scheme://user:pass@host``, and the value after a credential-named key
  (``password=``, ``API_KEY=``, ``"api_key": "..."``, ``client_secret:``, ``X-Api-Key:``).

There is no generic entropy detection. All patterns are one compiled regex, run once
over each whole text. Every alternative starts with one of a few characters
(``- _ : = A J B b``), so the regex engine skips between them in C and only tries
the alternatives there; the parts before that character (``sk`` of ``sk-``, the key
name before ``=``) are checked with fixed-width look-behinds.
"""

from trace2skill.redact.keys import key_kind
from trace2skill.redact.patterns import KINDS
from trace2skill.redact.records import redact_quoting_text, redact_trajectory
from trace2skill.redact.scan import find_secrets, redact_text

__all__ = ["KINDS", "find_secrets", "key_kind", "redact_quoting_text", "redact_text", "redact_trajectory"]
