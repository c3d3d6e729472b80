"""The tools' Python environment: .build/venv-ml, created and filled on first use.

`ensure(modules, packages)` re-runs the calling script inside .build/venv-ml (creating it, and
pip-installing `packages` when one of `modules` does not import), so that a tool runs with
`python3 tools/<tool>.py` on a fresh machine.
"""
import os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".build", "venv-ml")


def ensure(modules, packages):
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        subprocess.check_call([sys.executable, "-m", "venv", VENV], stdout=subprocess.DEVNULL)
    check = "import " + ", ".join(modules)
    if subprocess.call([python, "-c", check], stderr=subprocess.DEVNULL) != 0:
        subprocess.check_call([python, "-m", "pip", "install", "-q", *packages])
    os.execv(python, [python] + sys.argv)
