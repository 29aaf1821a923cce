"""Where things are: the database, the rule files, the matrices and the report templates.

Order of precedence: explicit argument > environment > `ikcheck.toml` in the working directory >
defaults. The bundled data folders are found inside the installed package (`ikcheck/_data/...`) or,
in a source checkout, at the repository root.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def bundled(name: str) -> Path:
    """Path of a bundled data folder: rules, riskregister or reports."""
    installed = PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    return PACKAGE_DIR.parent / name


def default_database_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ikcheck" / "ikcheck.db"


@dataclass(frozen=True)
class Settings:
    database_url: str
    rules_dir: Path
    riskregister_dir: Path
    reports_dir: Path
    engine: str  # "durable" or "python"
    user: str
    # Ed25519 key that signs the audit log's head (kept outside the database); its public half, for
    # a revisor's verify (docs/threat-model.md)
    signing_key: Path | None = None
    public_key: Path | None = None
    # the web app's sections of ikcheck.toml: [web] and [oidc] (docs/web.md)
    web: dict = field(default_factory=dict)
    oidc: dict = field(default_factory=dict)
    # [smtp]: host, port, security (starttls, tls or none), user, password_env, from (ikcheck remind)
    smtp: dict = field(default_factory=dict)

    @property
    def matrices_dir(self) -> Path:
        return self.riskregister_dir / "matriser"


def _toml(path: Path | None = None) -> dict:
    """ikcheck.toml: the file IKCHECK_CONFIG names, else the one in the working directory."""
    path = path or Path(os.environ.get("IKCHECK_CONFIG") or "ikcheck.toml")
    if path.is_file():
        with path.open("rb") as fh:
            return tomllib.load(fh)
    return {}


def database_url_for(value: str | None) -> str | None:
    """Accept a SQLAlchemy URL or a plain file path for SQLite."""
    if not value:
        return None
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def load_settings(database: str | None = None, user: str | None = None) -> Settings:
    conf = _toml()
    url = (
        database_url_for(database)
        or os.environ.get("IKCHECK_DATABASE_URL")
        or database_url_for(conf.get("database"))
        or database_url_for(str(default_database_path()))
    )

    def folder(key: str, name: str) -> Path:
        value = os.environ.get(f"IKCHECK_{key.upper()}") or conf.get(key)
        return Path(value).expanduser().resolve() if value else bundled(name)

    return Settings(
        database_url=url,
        rules_dir=folder("rules_dir", "rules"),
        riskregister_dir=folder("riskregister_dir", "riskregister"),
        reports_dir=folder("reports_dir", "reports"),
        engine=os.environ.get("IKCHECK_ENGINE") or conf.get("engine") or default_engine(),
        user=user or os.environ.get("IKCHECK_USER") or _os_user(),
        signing_key=_path(os.environ.get("IKCHECK_SIGNING_KEY") or conf.get("signing_key")),
        public_key=_path(os.environ.get("IKCHECK_PUBLIC_KEY") or conf.get("public_key")),
        web=dict(conf.get("web") or {}),
        oidc=dict(conf.get("oidc") or {}),
        smtp=dict(conf.get("smtp") or {}),
    )


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser().resolve() if value else None


def default_engine() -> str:
    try:
        import durable.engine  # noqa: F401
    except Exception:  # durable_rules does not build on Python 3.13+
        return "python"
    return "durable"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "okänd"
