"""The README's configuration table describes every setting, and only settings that exist."""

import re
from dataclasses import fields
from pathlib import Path

from retrieval.core.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def documented_variables() -> set[str]:
    rows = [line for line in README.read_text(encoding="utf-8").splitlines()
            if line.startswith("| `DOCCHAT_")]
    return {name for row in rows for name in re.findall(r"`(DOCCHAT_[A-Z0-9_]+)`",
                                                         row.split("|")[1])}


def test_every_setting_is_in_the_readme_table():
    variables = {f"DOCCHAT_{f.name.upper()}" for f in fields(Settings)}
    documented = documented_variables()
    assert sorted(variables - documented) == [], "settings missing from the README table"
    assert sorted(documented - variables) == [], "README rows for settings that do not exist"
