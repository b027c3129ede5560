"""Forms of known commands and conditions: install's clustered short options (exim4's
`install -d -oUSER -gGROUP -m2750 DIR`), `if true` / `if false` (javascript-common)."""

from __future__ import annotations

import pytest

from rewrite.translate import Untranslatable, translate


def _stanzas(text: str) -> list[dict[str, str]]:
    return [a.stanza() for a in translate(text, "postinst", package="demo").actions]


@pytest.mark.parametrize("line", [
    "install -d -odemo -gadm -m2750 /var/log/demo",
    "install -d -o demo -g adm -m 2750 /var/log/demo",
    "install -dodemo -gadm -m2750 /var/log/demo",
    "install --directory --owner=demo --group=adm --mode=2750 /var/log/demo",
])
def test_install_s_short_options_together_or_apart(line: str) -> None:
    assert _stanzas(f"#!/bin/sh\nset -e\n{line}\n") == [
        {"Action": "make-dir", "Script": "postinst",
         "On": "configure abort-upgrade abort-remove abort-deconfigure triggered reconfigure",
         "Path": "/var/log/demo", "Mode": "2750", "Owner": "demo", "Group": "adm"}]


def test_install_s_clusters_keep_refusing_what_is_unknown() -> None:
    with pytest.raises(Untranslatable):
        translate("#!/bin/sh\nset -e\ninstall -dZ /var/log/demo\n", "postinst", package="demo")


def test_true_and_false_as_conditions() -> None:
    text = ("#!/bin/sh\nset -e\nif true; then\n  mkdir -p /var/lib/a\nfi\n"
            "if false; then\n  rm -rf /etc\nfi\nif :; then mkdir -p /var/lib/b; fi\n")
    assert [a["Path"] for a in _stanzas(text)] == ["/var/lib/a", "/var/lib/b"]


def test_a_substitution_is_read_to_its_real_end() -> None:
    """`\\)` does not end `$( ... )`: the rm after it runs in the substitution."""
    text = "#!/bin/sh\nset -e\nx=$(echo a\\)b; rm -f /etc/important)\n"
    with pytest.raises(Untranslatable):
        translate(text, "postinst", package="demo")
