"""Find the server's data directory and database from a notebook, the way the server does, and never
create an empty database while looking.

Order: the ``data_dir``/``database_url`` arguments; else ``THERMALSTREAM_DATA_DIR`` /
``THERMALSTREAM_DATABASE_URL`` (environment or ``.env``, as the server reads them); else the default
``data/runtime`` relative to the current folder, then to each parent folder, then to the checkout
this package was installed from (an editable install), so a notebook opened in ``notebooks/`` finds
the server's data.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from thermalstream.config import Settings
from thermalstream.db import Database

DEFAULT_DIR = Path("data/runtime")
DB_FILE = "thermalstream.db"


class DataNotFound(LookupError):
    """No ThermalStream data where we looked; the message says where and what to do."""


def _candidates() -> list[Path]:
    here = Path.cwd().resolve()
    found = [p / DEFAULT_DIR for p in (here, *here.parents)]
    found.append(Path(__file__).resolve().parents[2] / DEFAULT_DIR)
    return list(dict.fromkeys(found))


def locate(data_dir: str | os.PathLike | None = None, database_url: str | None = None) -> Settings:
    """Settings pointing at existing data; raises :class:`DataNotFound` with the places tried."""
    overrides = {k: v for k, v in {"data_dir": data_dir, "database_url": database_url}.items() if v is not None}
    settings = Settings(**overrides)
    if settings.database_url:
        return settings
    explicit = data_dir is not None or "THERMALSTREAM_DATA_DIR" in os.environ or settings.data_dir != DEFAULT_DIR
    tried = [Path(settings.data_dir).expanduser()] if explicit else _candidates()
    for d in tried:
        if (d / DB_FILE).is_file():
            return settings.model_copy(update={"data_dir": d.resolve()})
    where = "\n  ".join(str(d / DB_FILE) for d in tried)
    raise DataNotFound(
        f"no ThermalStream database found; looked for:\n  {where}\n"
        "Start the server once (`make run`), or pass data_dir=… (the server's THERMALSTREAM_DATA_DIR) "
        "or database_url=…, or ts.connect(url, …) for a server elsewhere.")


def open_database(data_dir: str | os.PathLike | None = None, database_url: str | None = None) -> tuple[Settings, Database]:
    """(settings, database) of an existing, migrated ThermalStream database; nothing is created."""
    settings = locate(data_dir, database_url)
    url = settings.db_url
    if make_url(url).get_backend_name() == "sqlite":
        path = Path(make_url(url).database or "")
        if not path.is_file():
            raise DataNotFound(f"no ThermalStream database at {path}")
    db = Database(url)
    try:
        tables = set(inspect(db.engine).get_table_names())
    except Exception as exc:  # an unreachable server: say which, without a traceback wall
        db.dispose()
        raise DataNotFound(f"cannot open the ThermalStream database ({make_url(url).render_as_string()}): "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    if "cameras" not in tables:
        db.dispose()
        raise DataNotFound(f"{make_url(url).render_as_string()} is not a ThermalStream database "
                           "(no tables): start the server once or run `thermalstream db upgrade`")
    return settings, db


__all__ = ["DataNotFound", "locate", "open_database"]
