"""All contracts of a folder, with lookup by bronze key, and where that folder is."""

import importlib.util
from collections.abc import Iterable
from pathlib import Path

from lambda_bridge.config import Settings
from lambda_bridge.contracts.document import load_contract
from lambda_bridge.contracts.model import Contract
from lambda_bridge.exceptions import ContractError


def default_contracts_dir() -> Path:
    """Where contracts live when ELT_CONTRACTS_DIR is unset.

    In a Lambda zip they sit beside the `lambda_bridge` package (`contracts/`); in the repository
    and in an installed wheel they are `elt_assets/contracts`, found without importing elt_assets.
    """
    beside = Path(__file__).resolve().parents[2] / "contracts"
    if beside.is_dir():
        return beside
    spec = importlib.util.find_spec("elt_assets")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "contracts"
            if candidate.is_dir():
                return candidate
    msg = "no contracts folder found: set ELT_CONTRACTS_DIR"
    raise ContractError(msg)


class ContractRegistry:
    """All contracts of a folder, with lookup by bronze key."""

    def __init__(self, contracts: Iterable[Contract]) -> None:
        self._by_name: dict[str, Contract] = {}
        for contract in contracts:
            if contract.name in self._by_name:
                msg = f"{contract.source_path}: dataset {contract.name!r} is declared twice"
                raise ContractError(msg)
            for other in self._by_name.values():
                a, b = contract.bronze_prefix, other.bronze_prefix
                if a.startswith(b) or b.startswith(a):
                    msg = (
                        f"{contract.source_path}: bronze_prefix {a!r} overlaps {b!r} of "
                        f"{other.name!r}; a key must belong to one dataset"
                    )
                    raise ContractError(msg)
            self._by_name[contract.name] = contract

    @classmethod
    def load(cls, directory: Path | str | None = None) -> "ContractRegistry":
        """Every `*.yaml`/`*.yml` contract of `directory` (None: `default_contracts_dir()`).

        Raises:
            ContractError: the folder is missing or empty, a contract is malformed, or two
                contracts claim the same dataset or overlapping prefixes.
        """
        folder = Path(directory) if directory else default_contracts_dir()
        if not folder.is_dir():
            msg = f"contracts folder {folder} does not exist"
            raise ContractError(msg)
        files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
        if not files:
            msg = f"contracts folder {folder} has no *.yaml contracts"
            raise ContractError(msg)
        return cls(load_contract(p) for p in files)

    @classmethod
    def from_env(cls) -> "ContractRegistry":
        """The contracts of ELT_CONTRACTS_DIR, or the packaged ones when it is unset."""
        return cls.load(Settings.from_env().contracts_dir)

    def __getitem__(self, name: str) -> Contract:
        try:
            return self._by_name[name]
        except KeyError:
            msg = f"unknown dataset {name!r} (known: {', '.join(sorted(self._by_name))})"
            raise KeyError(msg) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(sorted(self._by_name.values(), key=lambda c: c.name))

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def names(self) -> list[str]:
        return sorted(self._by_name)

    def for_key(self, key: str) -> Contract | None:
        """The dataset whose bronze prefix holds `key`, or None."""
        for contract in self._by_name.values():
            if key.startswith(contract.bronze_prefix) and len(key) > len(contract.bronze_prefix):
                return contract
        return None
