"""Ed25519 signatures for the audit log's head and for receipts (anchors), with `cryptography`.

The private key lives outside the database (a file named by IKCHECK_SIGNING_KEY, readable by the
application only); the public key may be handed to the revisorer. The key id is the first 16 hex
digits of SHA-256 over the raw public key, so a receipt says which key signed it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ikcheck.errors import BadKey, UserError


def head_message(seq: int, hash_: str) -> bytes:
    return f"ikcheck-granskningslogg:{seq}:{hash_}".encode()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Verifier:
    public: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def valid(self, message: bytes, signature: str | None) -> bool:
        if not signature:
            return False
        try:
            self.public.verify(base64.b64decode(signature, validate=True), message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    private: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.private.public_key())

    @property
    def key_id(self) -> str:
        return self.verifier.key_id

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private.sign(message)).decode()


def load_signer(path: Path) -> Signer:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except FileNotFoundError:
        raise BadKey(f"Signeringsnyckeln {path} finns inte (IKCHECK_SIGNING_KEY).") from None
    except TypeError:  # cryptography's word for a key that needs a password
        raise BadKey(f"Signeringsnyckeln {path} är lösenordsskyddad; ikcheck läser den utan lösenord, "
                     "så skydda filen med filrättigheter i stället (IKCHECK_SIGNING_KEY).") from None
    except PermissionError:
        raise BadKey(f"Signeringsnyckeln {path} kan inte läsas: kontot som kör ikcheck saknar läsrätt "
                     "till filen.") from None
    except IsADirectoryError:
        raise BadKey(f"Signeringsnyckeln {path} är en katalog, inte en nyckelfil (IKCHECK_SIGNING_KEY).") from None
    except OSError as exc:
        raise BadKey(f"Signeringsnyckeln {path} kan inte läsas ({exc.strerror or 'okänt fel'}).") from None
    except ValueError:
        raise BadKey(f"Signeringsnyckeln {path} kan inte läsas: filen är ingen Ed25519-nyckel i PEM-format.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey(f"Signeringsnyckeln {path} är ingen Ed25519-nyckel.")
    return Signer(key)


def load_verifier(path: Path) -> Verifier:
    """A public key file, or a private key file (its public half)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        raise BadKey(f"Nyckelfilen {path} finns inte eller kan inte läsas.") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            return load_signer(path).verifier
        except BadKey:
            raise BadKey(f"Nyckelfilen {Path(path).name} är ingen Ed25519-nyckel i PEM-format.") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadKey(f"Nyckelfilen {Path(path).name} är ingen Ed25519-nyckel.")
    return Verifier(key)


def make_keys(directory: Path, name: str = "ikcheck-signering") -> tuple[Path, Path]:
    """A new key pair: NAME.key (private, mode 600) and NAME.pub (public, for the revisorer)."""
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / f"{name}.key", directory / f"{name}.pub"
    if private.exists():
        raise UserError(f"{private} finns redan; en ny nyckel skulle göra de gamla signaturerna omöjliga att "
                        "kontrollera med den. Ta bort filen först om det är meningen.")
    key = Ed25519PrivateKey.generate()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public
