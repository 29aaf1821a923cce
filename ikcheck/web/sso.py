"""Single sign-on with the kommun's directory (Entra ID, AD FS, …) over OpenID Connect: the
authorization-code flow with PKCE, through Authlib. The state, nonce and PKCE verifier are stored in
the database (accounts.start_sso), so the callback may reach any worker.

ikcheck.toml:

    [oidc]
    issuer = "https://login.microsoftonline.com/<tenant>/v2.0"
    client_id = "…"
    client_secret_env = "IKCHECK_OIDC_SECRET"   # the secret itself stays out of the file
    org = "EXB"                                  # the kommun these accounts belong to
    groups_claim = "groups"                      # the claim that lists the person's groups
    button = "Logga in med Exempelby kommuns konto"

    [oidc.groups]
    "IK-KS" = { role = "ks" }
    "IK-Controller-SN" = { role = "controller", units = ["SN"] }
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx

with warnings.catch_warnings():  # Authlib 1.9 announces its move to httpx2 and joserfc; both still work
    import authlib.deprecate  # noqa: F401 - sets its own "always" filter, which ours must follow

    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import OAuth2Client
    from authlib.jose import JsonWebKey, jwt
    from authlib.jose.errors import JoseError

from ikcheck import accounts
from ikcheck.app import App
from ikcheck.errors import UserError

ROLE_ORDER = ["admin", "revisor", "ks", "sekreterare", "controller", "kontrollansvarig"]
NO_GROUP = ("Du är inloggad hos kommunens katalog, men ditt konto hör inte till någon grupp som ger behörighet "
            "i ikcheck. Be kommunens administratör att lägga till dig i rätt grupp.")
FAILED = "Inloggningen via kommunens katalog misslyckades. Försök igen; kvarstår felet, kontakta administratören."


@dataclass(frozen=True)
class Config:
    issuer: str
    client_id: str
    client_secret: str | None
    org: str
    groups_claim: str
    groups: dict[str, dict[str, Any]]
    button: str
    timeout: float = 10.0


def config(app: App) -> Config | None:
    conf = app.settings.oidc
    if not conf.get("issuer"):
        return None
    secret = conf.get("client_secret")
    if conf.get("client_secret_env"):
        secret = os.environ.get(conf["client_secret_env"], secret)
    return Config(issuer=conf["issuer"].rstrip("/"), client_id=conf["client_id"], client_secret=secret,
                  org=conf.get("org", ""), groups_claim=conf.get("groups_claim", "groups"),
                  groups=dict(conf.get("groups") or {}), button=conf.get("button", "Logga in med kommunens konto"))


@lru_cache(maxsize=8)
def _discovery(issuer: str, timeout: float) -> dict:
    """The provider's metadata (a cache of what the provider publishes, not state: any worker may fetch it)."""
    r = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=timeout)
    r.raise_for_status()
    return r.json()


def _client(c: Config, redirect_uri: str) -> OAuth2Client:
    return OAuth2Client(c.client_id, c.client_secret, scope="openid profile email", redirect_uri=redirect_uri,
                        code_challenge_method="S256", timeout=c.timeout)


def authorization_url(app: App, c: Config, redirect_uri: str, next_url: str) -> str:
    meta = _discovery(c.issuer, c.timeout)
    st = accounts.start_sso(app, next_url)
    with _client(c, redirect_uri) as client:
        url, _state = client.create_authorization_url(meta["authorization_endpoint"], state=st.state,
                                                      nonce=st.nonce, code_verifier=st.code_verifier)
    return url


def role_of(c: Config, groups: list[str]) -> tuple[str, list[str]] | None:
    """The role and units the person's groups give: the broadest role among them, with the units of
    every group that gives that role. None: no group is mapped."""
    found = [(g, c.groups[g]) for g in groups if g in c.groups]
    if not found:
        return None
    role = min((m["role"] for _g, m in found), key=lambda r: ROLE_ORDER.index(r) if r in ROLE_ORDER else 99)
    units = sorted({u for _g, m in found if m["role"] == role for u in m.get("units", [])})
    return role, units


def finish(app: App, c: Config, redirect_uri: str, code: str, state: str) -> tuple[str, str]:
    """The callback: exchange the code (with the PKCE verifier), validate the ID token, map the groups.
    Returns the new session's token and where to go."""
    st = accounts.take_sso_state(app, state)
    if st is None or not code:
        raise UserError("Inloggningen har gått ut eller redan använts. Börja om från inloggningssidan.")
    meta = _discovery(c.issuer, c.timeout)
    try:
        with _client(c, redirect_uri) as client:
            token = client.fetch_token(meta["token_endpoint"], code=code, code_verifier=st.code_verifier,
                                       grant_type="authorization_code")
        keys = JsonWebKey.import_key_set(httpx.get(meta["jwks_uri"], timeout=c.timeout).json())
        claims = jwt.decode(token["id_token"], keys, claims_options={
            "iss": {"essential": True, "value": meta.get("issuer", c.issuer)},
            "aud": {"essential": True, "value": c.client_id},
            "nonce": {"essential": True, "value": st.nonce}})
        claims.validate(leeway=60)
    except (httpx.HTTPError, JoseError, KeyError, ValueError) as e:
        raise UserError(FAILED) from e
    groups = claims.get(c.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    mapped = role_of(c, list(groups))
    if mapped is None:
        raise UserError(NO_GROUP)
    role, units = mapped
    username = claims.get("preferred_username") or claims.get("email") or claims["sub"]
    name = claims.get("name") or username
    session = accounts.sso_login(app, issuer=claims["iss"], subject=claims["sub"], username=str(username),
                                 full_name=str(name), email=claims.get("email"), role=role, units=units,
                                 org_code=c.org or None)
    return session, st.next_url
