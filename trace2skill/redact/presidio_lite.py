"""Presidio's recognizers and anonymizer, imported without the model stacks they do not need here.

``presidio_analyzer`` imports its NLP engines at package import, and one of them imports
``transformers`` (and so ``torch``) whenever they are installed, as they are for the lesson
embedder: ~450 MB and 7-20 s in every read worker, for recognizers that never call them
(we run Presidio without an NLP engine, ``redact.personal``). Both imports are optional to
Presidio (a ``try``/``except ImportError``), so they are made to fail while Presidio loads,
and only then: a module already imported stays, and nothing is hidden afterwards.
"""

from __future__ import annotations

import sys
import threading

_UNUSED = ("transformers", "torch")
_LOCK = threading.Lock()

with _LOCK:
    _hidden = [name for name in _UNUSED if name not in sys.modules]
    for _name in _hidden:
        sys.modules[_name] = None  # type: ignore[assignment]  # `import name` raises ImportError
    try:
        from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            PhoneRecognizer,
        )
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig
    finally:
        for _name in _hidden:
            if sys.modules.get(_name) is None:
                del sys.modules[_name]

__all__ = [
    "AnonymizerEngine",
    "CreditCardRecognizer",
    "EmailRecognizer",
    "EntityRecognizer",
    "IbanRecognizer",
    "IpRecognizer",
    "OperatorConfig",
    "Pattern",
    "PatternRecognizer",
    "PhoneRecognizer",
    "RecognizerResult",
]
