from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_services_never_import_discord():
    probe = (
        "import importlib, pkgutil, sys, bot.services as s\n"
        "for m in pkgutil.walk_packages(s.__path__, 'bot.services.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('discord' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
