"""Named scenarios (TOML files) and the reference data they start from (``data/``)."""
