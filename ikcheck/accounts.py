"""Accounts and logins for the web app: who a person is, their role in one kommun, and their sessions.

Passwords are hashed with argon2id (argon2-cffi). Sessions, login throttling and single sign-on state
live in the database, so every worker and host sees the same (docs/architecture.md, "The web app").
A session's cookie carries a random token; the database keeps only its SHA-256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ikcheck.app import App
from ikcheck.calendar import now, today
from ikcheck.errors import NotFound, UserError
from ikcheck.store.audit import plain
from ikcheck.store.models import Account, LoginAttempt, LoginState, Organisation, Unit, WebSession

ROLES = {
    "admin": "administratör",
    "ks": "kommunledning (KS)",
    "controller": "controller",
    "sekreterare": "nämndsekreterare",
    "kontrollansvarig": "kontrollansvarig",
    "revisor": "revisor",
}
UNIT_ROLES = {"controller", "sekreterare", "kontrollansvarig"}  # these work with the units they are given
MIN_PASSWORD = 12
IDLE = dt.timedelta(hours=8)
ABSOLUTE = dt.timedelta(hours=12)
THROTTLE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_ACCOUNT = 5
MAX_FAILURES_ADDRESS = 30
SSO_STATE_AGE = dt.timedelta(minutes=10)
WRONG_LOGIN = "Fel användarnamn eller lösenord."
THROTTLED = ("För många misslyckade inloggningar på kort tid. Vänta en kvart och försök igen, "
             "eller be kommunens administratör om hjälp.")
CODE_THROTTLED = ("För många felaktiga koder från din dator på kort tid. Vänta en kvart och försök igen, "
                  "eller be den som leder workshoppen om hjälp.")
JOIN_CODE = "(deltagarkod)"  # a join-code attempt's name in login_attempt: it counts against the address

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY = _hasher.hash("ikcheck-ingen-sådan-användare")  # verified against for unknown users (same time)


def utc() -> dt.datetime:
    """Wall-clock time for sessions and throttling (never the demo's pinned clock)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Actor:
    """The logged-in person as every permission check and audit entry sees them."""

    account_id: int
    username: str
    name: str
    role: str
    org_id: int
    org_code: str
    unit_ids: frozenset[int] = field(default_factory=frozenset)
    title: str | None = None
    org_name: str = ""  # what the page header shows: "Exempelby kommun", not the code

    @property
    def label(self) -> str:
        """The audit log's actor for a change made in the web app: full name and account id."""
        return f"{self.name} (konto {self.account_id})"

    @property
    def role_sv(self) -> str:
        return ROLES[self.role]


def actor_of(s: Session, account: Account, org: Organisation | None = None) -> Actor:
    org = org or s.get(Organisation, account.org_id)
    return Actor(account.id, account.username, account.full_name, account.role, org.id, org.code,
                 frozenset(account.unit_ids or []), account.title, org.name)


def _record(account: Account) -> dict:
    """An account as the audit log records it: never the password hash."""
    return plain({"username": account.username, "full_name": account.full_name, "email": account.email,
                  "role": account.role, "unit_ids": account.unit_ids, "title": account.title,
                  "sso": bool(account.oidc_subject), "disabled_at": account.disabled_at, "demo": account.demo})


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"Okänd roll {role!r}; välj en av: {', '.join(ROLES)}.")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"Lösenordet är för kort: minst {MIN_PASSWORD} tecken (det angivna har {len(password)}).")
    return password


def _units(app: App, s: Session, org: Organisation, role: str, codes: list[str]) -> list[int]:
    ids = [app.unit(s, org, c).id for c in codes]
    if role in UNIT_ROLES and not ids:
        raise UserError(f"Rollen {role} arbetar med vissa enheter: ange minst en enhet "
                        f"(finns: {', '.join(u.code for u in org.units)}).", cli="Enheter anges med --unit.")
    if role not in UNIT_ROLES and ids:
        raise UserError(f"Rollen {role} gäller hela kommunen; enheter anges bara för "
                        f"{', '.join(sorted(UNIT_ROLES))}.", cli="Ta bort --unit.")
    return ids


def _find(s: Session, org: Organisation, username: str) -> Account:
    acc = s.scalar(select(Account).where(Account.org_id == org.id, Account.username == username))
    if acc is None:
        raise NotFound(f"Kontot {username!r} finns inte i {org.name}.")
    return acc


def add_user(app: App, username: str, *, full_name: str, email: str | None, role: str,
             units: list[str] | None = None, password: str | None = None, title: str | None = None,
             demo: bool = False, org_code: str | None = None) -> dict:
    check_role(role)
    username = username.strip()
    if not username or any(c.isspace() for c in username):
        raise UserError(f"Användarnamnet {username!r} får inte vara tomt eller innehålla mellanslag.")
    if password is not None:
        check_password(password)
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        if s.scalar(select(Account.id).where(Account.username == username)) is not None:
            raise UserError(f"Användarnamnet {username!r} är redan taget.")
        acc = Account(org_id=org.id, username=username, full_name=full_name.strip(), email=email, role=role,
                      unit_ids=_units(app, s, org, role, units or []), title=title,
                      password_hash=_hasher.hash(password) if password else None, demo=demo, created_at=now())
        s.add(acc)
        s.flush()
        app.audit(s, "skapa", "account", acc.id, after=_record(acc), org_id=org.id)
        if title:
            from ikcheck import positions

            positions.record(app, s, org, acc, title, today())
        return _row(s, acc)


def _row(s: Session, acc: Account) -> dict:
    units = {u.id: u.code for u in s.scalars(select(Unit).where(Unit.org_id == acc.org_id))}
    return {"användarnamn": acc.username, "namn": acc.full_name, "e-post": acc.email or "",
            "roll": acc.role, "enheter": ", ".join(units.get(i, "?") for i in acc.unit_ids or []),
            "befattning": acc.title or "", "inloggning": "katalog (SSO)" if acc.oidc_subject else
            ("lösenord" if acc.password_hash else "inget lösenord"),
            "status": "avstängt" if acc.disabled_at else "aktivt", "demo": "ja" if acc.demo else ""}


def list_users(app: App, org_code: str | None = None) -> list[dict]:
    with app.session() as s:
        org = app.org(s, org_code)
        return [_row(s, a) for a in s.scalars(select(Account).where(Account.org_id == org.id)
                                                .order_by(Account.username))]


def set_role(app: App, username: str, role: str, units: list[str] | None = None,
             org_code: str | None = None) -> dict:
    check_role(role)
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        acc = _find(s, org, username)
        before = _record(acc)
        acc.role, acc.unit_ids = role, _units(app, s, org, role, units or [])
        _revoke(s, acc.id)  # what the person may see changed: they log in again
        app.audit(s, "ändra roll", "account", acc.id, before=before, after=_record(acc), org_id=org.id)
        return _row(s, acc)


def disable(app: App, username: str, org_code: str | None = None) -> dict:
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        acc = _find(s, org, username)
        if acc.disabled_at is None:
            before = _record(acc)
            acc.disabled_at = utc()
            app.audit(s, "stäng av", "account", acc.id, before=before, after=_record(acc), org_id=org.id)
        _revoke(s, acc.id)
        return _row(s, acc)


def set_password(app: App, username: str, password: str, org_code: str | None = None) -> None:
    check_password(password)
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        acc = _find(s, org, username)
        acc.password_hash = _hasher.hash(password)
        _revoke(s, acc.id)
        app.audit(s, "nytt lösenord", "account", acc.id, after=_record(acc), org_id=org.id)


# --- logging in --------------------------------------------------------------------------------

def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _throttled(s: Session, username: str, address: str, at: dt.datetime) -> bool:
    since = at - THROTTLE_WINDOW
    last_ok = s.scalar(select(func.max(LoginAttempt.at)).where(LoginAttempt.username == username,
                                                               LoginAttempt.ok.is_(True)))
    account_since = max(since, last_ok) if last_ok else since
    by_account = s.scalar(select(func.count()).where(LoginAttempt.username == username,
                                                     LoginAttempt.ok.is_(False), LoginAttempt.at > account_since))
    by_address = s.scalar(select(func.count()).where(LoginAttempt.address == address,
                                                     LoginAttempt.ok.is_(False), LoginAttempt.at > since))
    return by_account >= MAX_FAILURES_ACCOUNT or by_address >= MAX_FAILURES_ADDRESS


def check_code_address(app: App, address: str) -> None:
    """Before a workshop join code is tried: refused (UserError) while the address has had too many
    failed logins or wrong codes in the last quarter, so guessing a code is not free."""
    at = utc()
    with app.db.session() as s:
        failures = s.scalar(select(func.count()).where(LoginAttempt.address == (address or "okänd")[:64],
                                                       LoginAttempt.ok.is_(False),
                                                       LoginAttempt.at > at - THROTTLE_WINDOW))
    if failures >= MAX_FAILURES_ADDRESS:
        raise UserError(CODE_THROTTLED)


def wrong_code(app: App, address: str) -> None:
    """A wrong or expired join code from an address: counted as a failed login from it."""
    at = utc()
    with app.db.session() as s:
        s.add(LoginAttempt(username=JOIN_CODE, address=(address or "okänd")[:64], at=at, ok=False))
        s.execute(delete(LoginAttempt).where(LoginAttempt.at < at - 2 * THROTTLE_WINDOW))


def _new_session(s: Session, acc: Account, at: dt.datetime, via: str) -> str:
    token = secrets.token_urlsafe(32)
    s.add(WebSession(id=_token_id(token), account_id=acc.id, csrf=secrets.token_urlsafe(32), created_at=at,
                     last_seen=at, via=via))
    return token


def login(app: App, username: str, password: str, address: str) -> str:
    """A new session's cookie token for a correct username and password. The same message for an
    unknown user, a wrong password and a disabled account; refused while throttled."""
    username = username.strip()[:200]
    address = (address or "okänd")[:64]
    at = utc()
    with app.db.session() as s:  # the attempt is stored whatever the outcome: raise only after commit
        refused = THROTTLED if _throttled(s, username, address, at) else None
        acc = None if refused else s.scalar(select(Account).where(Account.username == username))
        ok = False
        if not refused:
            try:  # an unknown user costs the same hash as a known one
                ok = _hasher.verify(acc.password_hash if acc and acc.password_hash else _DUMMY, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
            ok = ok and acc is not None and acc.password_hash is not None and acc.disabled_at is None
            refused = None if ok else WRONG_LOGIN
        s.add(LoginAttempt(username=username, address=address, at=at, ok=ok))
        s.execute(delete(LoginAttempt).where(LoginAttempt.at < at - 2 * THROTTLE_WINDOW))
        token = _new_session(s, acc, at, "lösenord") if ok else None
    if refused:
        raise UserError(refused)
    return token


@dataclass
class SessionInfo:
    actor: Actor
    csrf: str
    via: str


def session_actor(app: App, token: str | None) -> SessionInfo | None:
    """The person a cookie's session belongs to, or None (unknown, revoked, expired, disabled).
    Marks the session as used at most once a minute (the idle timeout counts from there)."""
    if not token:
        return None
    at = utc()
    with app.db.session() as s:
        row = s.execute(select(WebSession, Account, Organisation).join(Account, Account.id == WebSession.account_id)
                        .join(Organisation, Organisation.id == Account.org_id)
                        .where(WebSession.id == _token_id(token))).first()
        if row is None:
            return None
        ws, acc, org = row
        if (ws.revoked_at or acc.disabled_at or at - ws.last_seen > IDLE or at - ws.created_at > ABSOLUTE):
            return None
        if at - ws.last_seen > dt.timedelta(minutes=1):
            ws.last_seen = at
        return SessionInfo(actor_of(s, acc, org), ws.csrf, ws.via)


def logout(app: App, token: str | None) -> None:
    if not token:
        return
    with app.db.session() as s:
        s.execute(update(WebSession).where(WebSession.id == _token_id(token), WebSession.revoked_at.is_(None))
                  .values(revoked_at=utc()))


def _revoke(s: Session, account_id: int) -> None:
    s.execute(update(WebSession).where(WebSession.account_id == account_id, WebSession.revoked_at.is_(None))
              .values(revoked_at=utc()))


# --- single sign-on (web/sso.py talks to the directory; this keeps its state and its accounts) ---

def start_sso(app: App, next_url: str) -> LoginState:
    at = utc()
    st = LoginState(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                    code_verifier=secrets.token_urlsafe(64), next_url=safe_next(next_url), created_at=at)
    with app.db.session() as s:
        s.execute(delete(LoginState).where(LoginState.created_at < at - SSO_STATE_AGE))
        s.add(st)
    return st


def take_sso_state(app: App, state: str) -> LoginState | None:
    """The login under way with this state, once: a replayed or stale callback finds nothing."""
    with app.db.session() as s:
        st = s.get(LoginState, state or "")
        if st is None:
            return None
        s.delete(st)
        return st if utc() - st.created_at <= SSO_STATE_AGE else None


def sso_login(app: App, *, issuer: str, subject: str, username: str, full_name: str, email: str | None,
              role: str, units: list[str], org_code: str) -> str:
    """The directory has vouched for this person and their groups map to `role` and `units`: create or
    update their account (role and units follow the directory at every login) and open a session. The
    audit log names the person, as the directory gave them."""
    app = app.acting_as(f"{full_name} (via kommunens katalog)")
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        acc = s.scalar(select(Account).where(Account.oidc_issuer == issuer, Account.oidc_subject == subject))
        unit_ids = _units(app, s, org, role, units)
        if acc is None:
            name = username
            if s.scalar(select(Account.id).where(Account.username == name)) is not None:
                name = f"{username}#{hashlib.sha256(subject.encode()).hexdigest()[:6]}"
            acc = Account(org_id=org.id, username=name, full_name=full_name, email=email, role=role,
                          unit_ids=unit_ids, oidc_issuer=issuer, oidc_subject=subject, created_at=now())
            s.add(acc)
            s.flush()
            app.audit(s, "skapa (katalog)", "account", acc.id, after=_record(acc), org_id=org.id)
        elif acc.disabled_at is not None:
            raise UserError("Ditt konto i ikcheck är avstängt. Kontakta kommunens administratör.")
        elif (acc.role, list(acc.unit_ids or []), acc.full_name, acc.email) != (role, unit_ids, full_name, email):
            before = _record(acc)
            acc.role, acc.unit_ids, acc.full_name, acc.email = role, unit_ids, full_name, email
            app.audit(s, "ändra (katalog)", "account", acc.id, before=before, after=_record(acc), org_id=org.id)
        return _new_session(s, acc, utc(), "sso")


def safe_next(url: str | None) -> str:
    """Only a path on this site is followed after login (no open redirect)."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    return url[:500]
