"""Report wording in the registry's languages, read from data_dictionary/report_text.yaml."""

from __future__ import annotations

from typing import Any

from analysis.data import dictionary as dd
from analysis.data.dictionary import DictionaryError


class Text:
    """The wording of one language: ``text("sections.incidence")`` or with placeholders
    ``text("regional.title", region=name, year=2025)``."""

    def __init__(self, lang: str) -> None:
        self.lang = dd.language(lang)
        self._tree: dict[str, Any] = dd.load("report_text.yaml")[lang]

    def __call__(self, key: str, **values: Any) -> str:
        node: Any = self._tree
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise DictionaryError(f"report_text.yaml: '{self.lang}.{key}' is missing")
            node = node[part]
        return str(node).format(**values) if values else str(node)

    def section(self, key: str) -> dict[str, str]:
        """A whole group of wording (e.g. 'legend') as a dict of formatted-free strings."""
        node = self._tree
        for part in key.split("."):
            node = node[part]
        return {k: str(v) for k, v in node.items()}
