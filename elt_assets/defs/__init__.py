"""Dagster definitions by domain; `elt_assets.definitions` merges them."""
