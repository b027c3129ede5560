"""Writing our signed APT archive: indices, Release, signing, atomic switch.

`archive.publish.indices` holds the pure functions that render index files
(Packages, Sources, Contents, Release) and the by-hash layout.
"""
