"""`unessential key`: the archive's signing keys, kept under `<data_dir>/keys`."""

from __future__ import annotations

from pathlib import Path

import click

from archive.publish_settings import PublishSettings
from archive.signing import KeyInfo, SigningKeys
from base.atomic import write_bytes
from base.console import print_json
from base.context import AppContext, pass_app
from base.errors import SigningError


def key_home(app: AppContext) -> Path:
    """The private GNUPGHOME of the archive's signing keys."""
    return app.data_dir / "keys"


def _pin_hint(app: AppContext, keys: list[KeyInfo]) -> None:
    new = [key.fingerprint for key in keys]
    pinned = list(app.section(PublishSettings).signing_keys)
    click.echo("Pin it in the configuration, so that only this key signs a publish:")
    click.echo("  [publish]")
    click.echo(f"  signing_keys = [{_quoted(new)}]")
    if pinned and not set(new) <= set(pinned):
        both = pinned + [f for f in new if f not in pinned]
        click.echo("During a key rotation, sign with the old and the new key until every "
                   "client has the new one:")
        click.echo(f"  signing_keys = [{_quoted(both)}]")
    click.echo("Then give the public key to apt: unessential key export > archive-keyring.asc")


def _quoted(fingerprints: list[str]) -> str:
    return ", ".join(f'"{fingerprint}"' for fingerprint in fingerprints)


def _describe(key: KeyInfo) -> str:
    expires = f"expires {key.expires:%Y-%m-%d}" if key.expires else "never expires"
    if key.expired:
        expires = f"EXPIRED {key.expires:%Y-%m-%d}"
    return f"created {key.created:%Y-%m-%d}, {expires}"


@click.group()
def key() -> None:
    """The archive's OpenPGP signing keys (under <data_dir>/keys, no passphrase).

    The publisher signs unattended with these keys: protect <data_dir>/keys like
    any private key. Pin the fingerprints that sign in `publish.signing_keys`.

    \b
    Example:
      unessential key generate --name "Example Distro Archive"
      unessential key export > archive-keyring.asc
    """


@key.command("generate")
@click.option("--name", required=True, help="Name in the key's user ID.")
@click.option("--email", help="E-mail address in the key's user ID.")
@click.option("--expire", default="3y", show_default=True,
              help="Validity: 3y, 18m, 2w, 90d, a date (2030-01-01), or 0 for never.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def key_generate(app: AppContext, name: str, email: str | None, expire: str,
                 as_json: bool) -> None:
    """Generate a new ed25519 signing key, without a passphrase.

    \b
    Example:
      unessential key generate --name "Example Distro Archive" --email archive@example.org
      unessential key generate --name "Example Distro Archive 2027" --expire 2y --json
    """
    with SigningKeys(key_home(app)) as keys:
        info = keys.generate(name, email, expire=expire)
    if as_json:
        print_json(info.as_dict())
        return
    click.echo(f"{info.fingerprint}  {info.uid}")
    click.echo(f"  {_describe(info)}; secret key in {key_home(app)}")
    _pin_hint(app, [info])


@key.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def key_import(app: AppContext, file: Path, as_json: bool) -> None:
    """Import a secret signing key (armored or binary, from gpg --export-secret-keys).

    The key must have no passphrase: the publisher signs unattended.

    \b
    Example:
      gpg --export-secret-keys --armor 0123...CDEF > archive-secret.asc
      unessential key import archive-secret.asc
    """
    with SigningKeys(key_home(app)) as keys:
        infos = keys.import_file(file)
    if as_json:
        print_json([info.as_dict() for info in infos])
        return
    for info in infos:
        click.echo(f"{info.fingerprint}  {info.uid}")
        click.echo(f"  {_describe(info)}; secret key in {key_home(app)}")
    _pin_hint(app, infos)


@key.command("export")
@click.argument("fingerprints", nargs=-1, metavar="[FINGERPRINT]...")
@click.option("--binary", is_flag=True,
              help="Binary keyring (for a .gpg file) instead of armored text (.asc).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_app
def key_export(app: AppContext, fingerprints: tuple[str, ...], binary: bool,
               output: Path | None) -> None:
    """Export public keys for apt's signed-by.

    Without FINGERPRINT: the keys pinned in `publish.signing_keys`, or else every
    key that has its secret part here.

    \b
    Example:
      unessential key export > archive-keyring.asc
      unessential key export --binary --output /usr/share/keyrings/example-archive.gpg
    """
    with SigningKeys(key_home(app)) as keys:
        wanted = list(fingerprints) or list(app.section(PublishSettings).signing_keys)
        if not wanted:
            wanted = [info.fingerprint for info in keys.list() if info.secret]
        if not wanted:
            raise SigningError(str(key_home(app)),
                               "no signing key: create one with unessential key generate")
        data = keys.export_public(wanted, armor=not binary)
    if output is None:
        click.echo(data, nl=False)  # bytes go to the binary stdout as they are
        return
    _write_atomically(output, data)


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        write_bytes(path, data, mode=0o644)
    except OSError as exc:
        raise SigningError(str(path), f"cannot write: {exc.strerror}") from exc


@key.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def key_list(app: AppContext, as_json: bool) -> None:
    """List the keys under <data_dir>/keys, and which are pinned for signing.

    \b
    Example:
      unessential key list
      unessential key list --json
    """
    pinned = list(app.section(PublishSettings).signing_keys)
    with SigningKeys(key_home(app)) as keys:
        infos = keys.list()
    present = {info.fingerprint for info in infos}
    missing = [fingerprint for fingerprint in pinned if fingerprint not in present]
    if as_json:
        print_json({
            "home": str(key_home(app)),
            "keys": [info.as_dict() | {"pinned": info.fingerprint in pinned} for info in infos],
            "pinned_missing": missing,
        })
        return
    if not infos:
        click.echo(f"no keys in {key_home(app)}: create one with unessential key generate")
    for info in infos:
        flags = ("secret" if info.secret else "public") + (", pinned" if
                                                           info.fingerprint in pinned else "")
        click.echo(f"{info.fingerprint}  {info.uid}")
        click.echo(f"  {flags}; {_describe(info)}")
    for fingerprint in missing:
        click.echo(f"{fingerprint}  pinned in publish.signing_keys but not in "
                   f"{key_home(app)}", err=True)
