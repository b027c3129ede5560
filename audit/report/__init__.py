"""The static HTML report of the catalog: summary, packages, images."""
