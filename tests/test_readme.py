"""The README's two commands are what CI runs on a fresh clone, in the same order."""

from __future__ import annotations

import re

from equity.paths import PROJECT_ROOT


def _readme_commands() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```\n([^\n`]+)\n```", section)


def test_ci_runs_exactly_the_readme_commands_in_order():
    commands = _readme_commands()
    assert commands == ["make demo", "make test"], commands
    ci = [line.strip() for line in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    run_lines = [line for line in ci if line in commands]
    assert run_lines == commands, f".ci/run runs {run_lines}, README says {commands}"


def test_makefile_targets_exist_for_readme_commands():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    for command in _readme_commands():
        target = command.split()[1]
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no target {target}"


def test_ci_also_runs_the_slow_tests_that_make_test_leaves_out():
    """`make test` leaves out the tests marked slow; CI runs them after it, so none goes unrun."""
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    test = re.search(r"^test: .*\n\t(.*)$", makefile, re.M).group(1)
    slow = re.search(r"^test-slow: .*\n\t(.*)$", makefile, re.M).group(1)
    assert '-m "not bench and not slow"' in test, test
    assert '-m "slow and not bench"' in slow, slow
    ci = [line.strip() for line in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()]
    assert ci.index("make test-slow") > ci.index("make test")
