"""From a signed archive to a minimal root filesystem or OCI image.

Empty until the bootstrap issue.
"""
