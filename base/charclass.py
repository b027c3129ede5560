"""The POSIX character classes (`[:alpha:]` ...) as ranges of a Python character class,
in the C locale: shared by the grep BRE subset of the action vocabulary and by dpkg's
fnmatch path filters of bootstrap (a module of its own, so that neither imports the
other's room)."""

from __future__ import annotations

import re

POSIX_CLASSES = {"alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z",
                 "lower": "a-z", "space": " \\t\\n\\r\\f\\v", "blank": " \\t",
                 "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
                 "xdigit": "0-9A-Fa-f"}
