"""CI runs the README's test command, verbatim."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_run_holds_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\s*\n(.*?)^```", readme, flags=re.S | re.M)
    command = blocks[1].strip()
    assert "pytest" in command
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert lines[-1] == command
