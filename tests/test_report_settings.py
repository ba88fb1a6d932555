"""What the reports show is read from registry.yaml (section reports)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from analysis.data import dictionary as dd
from analysis.reporting.analyses import report_settings


def _dictionary(tmp_path, monkeypatch, edit) -> None:
    folder = tmp_path / "dd"
    shutil.copytree(dd.dictionary_dir(), folder)
    path = folder / "registry.yaml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(cfg["reports"])
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("BCR_DICTIONARY", str(folder))


def test_settings_follow_the_dictionary(tmp_path, monkeypatch) -> None:
    shipped = report_settings()
    assert (shipped.net_survival_times, shipped.survival_years) == ((1.0, 5.0), 10)

    def edit(reports):
        reports.update(net_survival_times=[1, 3], survival_years=8)
    _dictionary(tmp_path, monkeypatch, edit)
    changed = report_settings()
    assert (changed.net_survival_times, changed.survival_years) == ((1.0, 3.0), 8)


def test_missing_setting_names_file_and_key(tmp_path, monkeypatch) -> None:
    _dictionary(tmp_path, monkeypatch, lambda reports: reports.pop("period_years"))
    with pytest.raises(dd.DictionaryError, match=r"registry.yaml: section 'reports' lacks "
                                                 r"period_years"):
        report_settings()
