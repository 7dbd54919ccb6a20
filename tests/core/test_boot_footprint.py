"""A web worker loads only what serving needs: the migration tool (Alembic) and the demo
data generator (Faker) load when a command uses them, not at boot (they weigh ~20 MB of a
worker's 150 MB budget)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from app import create_app

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("alembic", "flask_migrate", "faker")


def test_the_web_app_boots_without_alembic_or_faker():
    code = f"import json, sys, wsgi; print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    env = {**os.environ, "APP_ENV": "testing"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_db_commands_load_flask_migrate_on_first_use():
    fresh = create_app()
    assert "migrate" not in fresh.extensions
    runner = fresh.test_cli_runner()
    listed = runner.invoke(args=["db", "--help"])
    assert listed.exit_code == 0 and "upgrade" in listed.output and "-x, --x-arg" in listed.output
    heads = runner.invoke(args=["db", "heads"])
    assert heads.exit_code == 0, heads.output
    assert "migrate" in fresh.extensions
