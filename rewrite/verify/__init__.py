"""The equivalence check of the rewrite (`unessential verify`), Celery-free.

- `systems`: the base chroot (mmdebstrap minbase, merged /usr, cached), systems as
  overlays of it, stock apt/dpkg run inside them;
- `snapshot`: a system's tree and its structured state (accounts, dpkg's status,
  diversions, stat overrides, alternatives);
- `compare`: the differences between Debian's system (A) and ours (B, C), each
  explained by a reason of `recipes/expected.toml` or unexpected;
- `harness`: one package, its systems and scenarios (install, remove, purge, upgrade).

The orchestration over the upstream mirror and system C (bootstrap's native install)
live in `audit/verify.py`: rewrite may not import bootstrap.
"""
