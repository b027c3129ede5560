"""`unessential scan`: what scanners will see in an image."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from base.console import print_json
from base.context import AppContext, pass_app
from base.errors import PolicyGateFailed


@click.command("scan")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True,
              help="Fail (exit 18) when the image has no identity or an unowned ELF file.")
@click.option("--json", "as_json", is_flag=True, help="Print the scan as JSON.")
@pass_app
def scan_command(app: AppContext, image: Path, strict: bool, as_json: bool) -> None:
    """What Syft, Grype and Trivy will see in IMAGE: its distribution (os-release), its
    packages with their purls (as bootstrap's SBOMs write them), and the ELF files and
    shared libraries no package owns (no scanner can see those).

    IMAGE is a root directory, a rootfs tar, an OCI layout (directory or .oci.tar, every
    platform of it) or a docker-archive; nothing is unpacked.

    \b
    Example:
      unessential scan python.oci.tar
      unessential scan rootfs/ --json
      unessential scan python.oci.tar --strict      # a CI gate
    """
    from audit.scan import scan_image

    scans = scan_image(image)
    if as_json:
        print_json([{"image": s.label, "format": s.format,
                     "identity": asdict(s.identity) if s.identity else None,
                     "distro": s.identity.distro if s.identity else None,
                     "packages": [asdict(p) for p in s.packages],
                     "files": s.files, "unowned": s.unowned} for s in scans])
    else:
        for scan in scans:
            distro = (f"{scan.identity.pretty_name or scan.identity.id} "
                      f"(purl distro={scan.identity.distro}, {scan.identity.path})"
                      if scan.identity else "none (no /etc/os-release)")
            click.echo(f"{scan.label} ({scan.format})")
            click.echo(f"  distribution: {distro}")
            click.echo(f"  packages: {len(scan.packages)}, with a purl: "
                       f"{sum(1 for p in scan.packages if p.purl)}")
            for package in scan.packages:
                click.echo(f"    {package.purl or package.name + ' ' + package.version}")
            click.echo(f"  files: {scan.files}, ELF files and libraries no package owns: "
                       f"{len(scan.unowned)}")
            for path in scan.unowned:
                click.echo(f"    {path}")
    problems = [f"{s.label}: {problem}" for s in scans for problem in s.problems()]
    if strict and problems:
        raise PolicyGateFailed(str(image), f"{len(problems)} problems: {problems[0]}")
