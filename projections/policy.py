"""What each projection may keep of the applicant (DESIGN principle 9).

- `onestop` keeps everything: the department must process the dossier.
- `portal` keeps the applicant kind and, instead of the ID number, its keyed HMAC
  (`applicant_hmac`), so a citizen can look a dossier up by ID number without the portal
  database holding any ID numbers. Names, phones and emails are dropped. Without a key the
  portal keeps no ID at all (never the raw one).
- `stats` keeps no applicant data at all.

The HMAC key comes from settings, outside the database; `build_policies` takes it as an
argument so the core stays free of configuration.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

__all__ = ["Policy", "applicant_hmac", "build_policies", "normalise_id_number"]


@dataclass(frozen=True, slots=True)
class Policy:
    """What a projection's fold keeps of `DossierSubmitted.applicant`.

    `keep_applicant`: keep name, ID number, phone and email as given.
    `hmac_key`: when not keeping the applicant, keep the HMAC-SHA256 of the ID number.
    `keep_applicant_kind`: keep the applicant's kind (CITIZEN, BUSINESS, ...), not PII.
    """

    keep_applicant: bool
    hmac_key: bytes | None = None
    keep_applicant_kind: bool = True

    def __repr__(self) -> str:  # never print the key
        key = "set" if self.hmac_key else None
        return (
            f"Policy(keep_applicant={self.keep_applicant}, hmac_key={key}, "
            f"keep_applicant_kind={self.keep_applicant_kind})"
        )


def normalise_id_number(id_number: str) -> str:
    """The form an ID number is hashed in: surrounding blanks removed, letters upper-case."""
    return id_number.strip().upper()


def applicant_hmac(key: bytes, id_number: str) -> str:
    """Hex HMAC-SHA256 of a normalised ID number; the portal API hashes lookups the same way."""
    return hmac.new(key, normalise_id_number(id_number).encode("utf-8"), hashlib.sha256).hexdigest()


def build_policies(hmac_key: bytes | None) -> dict[str, Policy]:
    """The policy of each projection (`portal`, `onestop`, `stats`) for the given HMAC key."""
    return {
        "portal": Policy(keep_applicant=False, hmac_key=hmac_key, keep_applicant_kind=True),
        "onestop": Policy(keep_applicant=True, hmac_key=None, keep_applicant_kind=True),
        "stats": Policy(keep_applicant=False, hmac_key=None, keep_applicant_kind=False),
    }
