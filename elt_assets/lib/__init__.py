"""Plain Python that both the `elt` command and the Dagster definitions call; no Dagster here."""
