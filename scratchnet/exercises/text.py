"""Bilingual messages: every hint and named failure the checker prints exists in Korean and
English, and the report picks one (`scratchnet exercise check NAME --lang ko|en`)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    """One message in English and Korean; `format` fills both."""
    en: str
    ko: str

    def get(self, lang):
        return self.ko if lang == "ko" else self.en

    def format(self, **values):
        return Text(self.en.format(**values), self.ko.format(**values))


def say(message, lang):
    """A Text in `lang`, or a plain str (a traceback) unchanged."""
    return message.get(lang) if isinstance(message, Text) else str(message)
