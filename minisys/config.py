"""Where minisys keeps state and finds the real services it compares against.

Resolution order for a service address (DESIGN principle 4, "embedded by
default, real when asked"):

1. the environment (``MINISYS_POSTGRES_URL``, ``MINISYS_KAFKA_BOOTSTRAP``), so a
   user can point every scenario and test at their own servers;
2. the ``services.json`` that ``minisys services up`` writes in the state dir;
3. nothing: scenarios fall back to the embedded systems (SQLite, DuckDB,
   simulated clusters) and say which systems they left out.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

POSTGRES_ENV = "MINISYS_POSTGRES_URL"
KAFKA_ENV = "MINISYS_KAFKA_BOOTSTRAP"
STATE_ENV = "MINISYS_STATE_DIR"


def state_dir() -> Path:
    """The directory for throwaway servers and their ``services.json``.

    ``MINISYS_STATE_DIR`` wins; otherwise ``$XDG_STATE_HOME/minisys`` or
    ``~/.local/state/minisys``. Not created here: readers must not create it.
    """
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV]).expanduser().resolve()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "minisys"


def services_file() -> Path:
    return state_dir() / "services.json"


def read_services() -> dict[str, Any]:
    """The services recorded by ``minisys services up`` (empty when none)."""
    path = services_file()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def write_services(data: dict[str, Any]) -> Path:
    """Atomically replace ``services.json`` (a reader never sees half a file)."""
    path = services_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def postgres_url() -> str | None:
    """A ``postgresql://user@host:port/db`` URL, or None when none is configured."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    return (read_services().get("postgres") or {}).get("url")


def kafka_bootstrap() -> str | None:
    """A ``host:port[,host:port]`` bootstrap string, or None when none is configured."""
    bootstrap = os.environ.get(KAFKA_ENV)
    if bootstrap:
        return bootstrap
    return (read_services().get("kafka") or {}).get("bootstrap")
