"""Reading a Debian mirror, verified: sources, Release, indices, downloads, cache."""
