"""Dagster only, autoloaded by `elt_assets.definitions`: one folder per domain, the same file names in each."""
