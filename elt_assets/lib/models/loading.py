"""Models from SQL files: their inputs read from the SQL (sqlglot), checked against the registry,
and put in dependency order; plus the generated `<dataset>_current` models."""

import graphlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from elt_assets.lib.models.model import (
    CURRENT_SUFFIX,
    DAILY_SUFFIX,
    ENV_MODELS_DIR,
    LAYERS,
    MAX_WINDOW_DAYS,
    Layer,
    Model,
    ModelError,
    default_models_dir,
)
from lambda_bridge.contracts import ContractRegistry

if TYPE_CHECKING:
    pass

_NAME = re.compile(r"^[a-z][a-z0-9_]*\Z")
_WINDOW = re.compile(r"^--\s*window\s*:\s*(?P<value>.*?)\s*$", re.IGNORECASE)
_WINDOW_VALUE = re.compile(r"^(?P<days>\d+)d\Z")
_DESCRIPTION = re.compile(r"^--\s*(?P<name>[A-Za-z0-9_]+)\s*:\s*(?P<text>.*?)\s*$")


def load_models(
    models_dir: Path | str | None = None, registry: ContractRegistry | None = None
) -> list[Model]:
    """Every model: the generated `<dataset>_current` ones and each `*.sql` of `models_dir`, in
    dependency order (a model after everything it reads; ties by name).

    Args:
        models_dir: The folder of SQL files; None: `default_models_dir()` (a missing default
            folder means no SQL models, a missing chosen one is an error).
        registry: The contracts the tables are checked against; None: `ContractRegistry.from_env()`.

    Raises:
        ModelError: with the file named: a syntax error, not exactly one SELECT, a table that is
            unqualified or names no dataset, reference or model, a cycle, a bad model name or
            header, or a name a generated model or daily summary already has.
    """
    registry = registry if registry is not None else ContractRegistry.from_env()
    folder = Path(models_dir) if models_dir is not None else default_models_dir()
    chosen = models_dir is not None or bool(os.environ.get(ENV_MODELS_DIR))
    if not folder.is_dir() and chosen:
        msg = f"models folder {folder} does not exist"
        raise ModelError(msg)

    generated = current_models(registry)
    reserved = {m.name: f"the generated model of dataset {m.dataset!r}" for m in generated}
    for contract in registry:
        reserved[f"{contract.name}{DAILY_SUFFIX}"] = f"the daily summary of {contract.name!r}"
    models = {m.name: m for m in generated}
    files = sorted(folder.glob("*.sql")) if folder.is_dir() else []
    for path in files:
        model = parse_model(path, registry)
        if model.name in reserved:
            msg = f"{path}: model name {model.name!r} is taken by {reserved[model.name]}"
            raise ModelError(msg)
        models[model.name] = model
    for model in models.values():
        for name in model.upstream_models:
            if name not in models:
                msg = (
                    f"{model.path}: unknown table 'gold.{name}': no model {name!r} "
                    f"(known: {', '.join(sorted(models))})"
                )
                raise ModelError(msg)
    return _in_dependency_order(models)


def current_models(registry: ContractRegistry) -> list[Model]:
    """The generated `<dataset>_current` model of every dataset (not reference) with a key."""
    return [
        Model(
            name=f"{c.name}{CURRENT_SUFFIX}",
            path=Path(c.source_path) if c.source_path else None,
            sql=None,
            description=(
                f"The newest {c.name} record per {', '.join(c.primary_key)} of each day's silver "
                f"partition (by {', '.join(c.order_by)})."
            ),
            deps=(("silver", c.name),),
            kind="current",
            dataset=c.name,
        )
        for c in registry
        if c.kind == "dataset" and c.primary_key
    ]


def parse_model(path: Path | str, registry: ContractRegistry) -> Model:
    """One SQL file as a Model; its `gold.*` deps are not checked here (see `load_models`).

    Raises:
        ModelError: the file cannot be read, or its name, header or SQL is refused.
    """
    path = Path(path)
    name = path.stem
    if not _NAME.match(name):
        msg = (
            f"{path}: model name {name!r} must be lower-case letters, digits and '_', "
            "starting with a letter"
        )
        raise ModelError(msg)
    try:
        sql = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read the model: {exc}"
        raise ModelError(msg) from None
    description, window_days = _header(path, name, sql)
    deps = _tables(path, sql, registry)
    return Model(
        name=name,
        path=path,
        sql=sql,
        description=description,
        window_days=window_days,
        deps=deps,
    )


def _header(path: Path, name: str, sql: str) -> tuple[str, int]:
    """The description and window from the comment lines before the query."""
    description, window_days = "", 1
    for raw in sql.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("--"):
            break
        if found := _WINDOW.match(line):
            value = _WINDOW_VALUE.match(found["value"])
            days = int(value["days"]) if value else 0
            if not 1 <= days <= MAX_WINDOW_DAYS:
                msg = (
                    f"{path}: header 'window' takes <N>d with N from 1 to {MAX_WINDOW_DAYS}, "
                    f"got {found['value']!r}"
                )
                raise ModelError(msg)
            window_days = days
        elif (found := _DESCRIPTION.match(line)) and found["name"] == name:
            description = found["text"]
    return description, window_days


def _tables(path: Path, sql: str, registry: ContractRegistry) -> tuple[tuple[Layer, str], ...]:
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(sql) if s is not None]
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first['line']}, column {first['col']}" if "line" in first else ""
        problem = first.get("description") or str(exc)
        msg = f"{path}: SQL syntax error{where}: {problem}"
        raise ModelError(msg) from None
    except sqlglot.errors.SqlglotError as exc:
        msg = f"{path}: SQL syntax error: {exc}"
        raise ModelError(msg) from None
    if len(statements) != 1:
        msg = f"{path}: a model is one SELECT statement, found {len(statements)} statements"
        raise ModelError(msg)
    (tree,) = statements
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    if not isinstance(tree, exp.Query):
        kind = tree.key.upper()
        msg = f"{path}: a model is one SELECT statement, found {kind}"
        raise ModelError(msg)

    # CTE names are what an unqualified name may refer to; tables are always qualified.
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    deps: set[tuple[Layer, str]] = set()
    for table in tree.find_all(exp.Table):
        text = table.sql()
        if not isinstance(table.this, exp.Identifier):
            msg = f"{path}: {text!r} is not a table: read silver.*, gold.* or ref.* tables"
            raise ModelError(msg)
        name, layer = table.name.lower(), table.db.lower()
        if table.catalog:
            msg = f"{path}: table {text!r} has too many parts: name it <layer>.<name>"
            raise ModelError(msg)
        if not layer:
            if name in ctes:
                continue
            msg = (
                f"{path}: unqualified table {name!r}: name it silver.{name}, gold.{name} or "
                f"ref.{name}"
            )
            raise ModelError(msg)
        if layer not in LAYERS:
            msg = f"{path}: table {text!r} is in no layer (silver, gold or ref)"
            raise ModelError(msg)
        if layer != "gold":
            _check_dataset(path, registry, layer, name)  # type: ignore[arg-type]
        deps.add((layer, name))  # type: ignore[arg-type]
    return tuple(sorted(deps))


def _check_dataset(path: Path, registry: ContractRegistry, layer: Layer, name: str) -> None:
    want = "reference" if layer == "ref" else "dataset"
    if name not in registry:
        known = [c.name for c in registry if c.kind == want]
        msg = (
            f"{path}: unknown table '{layer}.{name}': no {want} contract {name!r} "
            f"(known: {', '.join(known) or 'none'})"
        )
        raise ModelError(msg)
    kind = registry[name].kind
    if kind != want:
        other = "ref" if kind == "reference" else "silver"
        msg = f"{path}: table '{layer}.{name}' is of kind {kind}: read it as {other}.{name}"
        raise ModelError(msg)


def _in_dependency_order(models: dict[str, Model]) -> list[Model]:
    graph = {name: set(m.upstream_models) for name, m in models.items()}
    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        # graphlib lists the cycle backwards (each node after one it depends on).
        chain = " -> ".join(f"gold.{n}" for n in reversed(cycle))
        msg = f"{models[cycle[-1]].path}: models form a cycle: {chain}"
        raise ModelError(msg) from None
    ordered: list[Model] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered.extend(models[name] for name in ready)
        sorter.done(*ready)
    return ordered
