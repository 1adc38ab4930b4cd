"""The domain and the models never import Flask: the gateway and the CLI use them without it."""
from __future__ import annotations

import pkgutil
import subprocess
import sys

import tracker.domain


def test_models_and_domain_import_without_flask() -> None:
    modules = ["tracker.models", "tracker.db", "tracker.config", "tracker.migrate", "beacon_gateway",
               "scanner_app"] + [f"tracker.domain.{m.name}" for m in pkgutil.iter_modules(tracker.domain.__path__)]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + (
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in {'flask', 'werkzeug', 'flask_login'})\n"
        "print(','.join(leaked))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
