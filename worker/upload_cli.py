"""`unessential upload-key`: the worker's own upload key, for the publisher's keyring."""

from __future__ import annotations

import sys

import click

from base.console import print_json
from base.context import AppContext, pass_app


@click.command("upload-key")
@click.option("--armor", is_flag=True, help="Print the public key, ASCII-armored.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the account, fingerprint and armored public key as JSON.")
@pass_app
def upload_key_command(app: AppContext, armor: bool, as_json: bool) -> None:
    """The key this worker signs its uploads with (made on first use, under
    <data_dir>/keys/worker): its fingerprint, or its public key to put into the
    publisher's publish.worker_keys directory as <account>.asc (the account is
    worker.upload_user, else the host name).

    \b
    Example:
      unessential upload-key --armor > "$(hostname).asc"
      unessential upload-key --json
    """
    from worker.outgoing import worker_key, worker_keys
    from worker.settings import WorkerSettings

    account = app.section(WorkerSettings).upload_account
    with worker_keys(app.data_dir) as keys:
        key = worker_key(keys)
        public = keys.export_public([key.fingerprint], armor=True)
    if as_json:
        print_json({"account": account, "fingerprint": key.fingerprint,
                    "public_key": public.decode("ascii")})
    elif armor:
        sys.stdout.write(public.decode("ascii"))
    else:
        click.echo(key.fingerprint)
