"""URLs as they may be shown to a user: a password in them is replaced by `***`.

Mirror, catalog and broker URLs may carry credentials (`http://user:secret@host/debian`).
They are used as given, but every message, listing and error shows `display_url(url)`,
and the console masks any URL password left in an error line (`mask_passwords`).
"""

from __future__ import annotations

import re

# scheme://user:password@ : the user part has no '/', ':' or '@'; the password no '/',
# '@' or white space (both must be percent-encoded in a URL).
_PASSWORD_IN_URL = re.compile(r"(://[^/:@\s]*:)[^/@\s]*@")


def mask_passwords(text: str) -> str:
    """`text` with the password of every `scheme://user:password@` in it as `***`."""
    return _PASSWORD_IN_URL.sub(r"\1***@", text)


def display_url(url: str) -> str:
    """The URL with its password, if any, masked: `http://user:***@host/debian`."""
    return mask_passwords(url)
