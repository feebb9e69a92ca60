"""Commands answer before torch loads: planning, config checks and the CLI's first line import no torch."""

import subprocess
import sys

PLAN_ALL = """
import sys
from mike.profiles import get_profile
from suites.registry import SuitePaths, build_plan
plan = build_plan("all", get_profile("small").with_overrides({"teacher.steps": 5}), [0, 1], SuitePaths())
names = ("torch", "torchvision", "gymnasium", "sacred", "pandas", "matplotlib")
heavy = [m for m in names if m in sys.modules]
print(len(plan), heavy)
"""


def test_planning_every_suite_imports_no_torch():
    out = subprocess.run([sys.executable, "-c", PLAN_ALL], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    count, heavy = out.stdout.split(" ", 1)
    assert int(count) > 700 and heavy.strip() == "[]"


def test_a_bad_override_is_refused_before_torch_is_imported():
    code = (
        "import sys\nfrom benchmark.cli import main\n"
        "rc = main(['suite', 'single', 'with', 'teacher.stepz=1'])\nprint(rc, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["2", "False"], out.stdout + out.stderr
    assert "unknown config key 'teacher.stepz'" in out.stderr
