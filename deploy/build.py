"""Build the Lambda deployment packages: dist/ingest.zip and dist/transform.zip.

Usage: python deploy/build.py [--python 3.11|3.12] [--arch x86_64|arm64] [--out dist]

Each zip holds `lambda_bridge/`, the dataset contracts at `contracts/` (where
`lambda_bridge.contracts.default_contracts_dir()` looks in a zip) and the third-party packages
the function's handler imports, installed from manylinux wheels for the Lambda runtime. boto3
and botocore are not packed: the Python runtimes provide them.

The wheels must suit the runtime's glibc, not this machine's: python3.11 runs on Amazon Linux 2
(glibc 2.26), python3.12 on Amazon Linux 2023 (glibc 2.34). A wheel for a newer glibc installs
fine here and fails on Lambda with `GLIBC_2.28 not found`, so only the manylinux tags the
runtime's glibc satisfies are offered to pip. When a version pinned in requirements.lock has no
such wheel (numpy >= 2.3 and pyarrow >= 21 need glibc 2.28), the newest version within
pyproject.toml's range that has one is used instead, and the build says so.

The build fails, with one sentence and a non-zero exit, if an unzipped package would exceed
Lambda's 250 MB limit or if Dagster, Great Expectations or polars ended up inside. (Above 50 MB
zipped Lambda takes code only from S3, which is how the Terraform lambda module deploys it.) Unless `--no-verify` is given, each zip is then unpacked
and its handler imported by a clean interpreter of the target version (when this machine has
one and can run the architecture), with only the package and the runtime's boto3 on the path.
"""

import argparse
import ast
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "lambda_bridge"
CONTRACTS_DIR = ROOT / "elt_assets" / "contracts"

FUNCTIONS = {
    "ingest": "lambda_bridge.ingest.handler",
    "transform": "lambda_bridge.transform.handler",
}
RUNTIME_GLIBC = {"3.11": 26, "3.12": 34}
WHEEL_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}
# Top-level import name -> distribution, for what the handlers import.
DISTRIBUTIONS = {
    "aws_lambda_powertools": "aws-lambda-powertools",
    "msgspec": "msgspec",
    "numpy": "numpy",
    "pyarrow": "pyarrow",
    "yaml": "pyyaml",
}
# The Lambda Python runtimes ship these; a packed copy would only shadow them.
RUNTIME_PROVIDED = {"boto3", "botocore"}
FORBIDDEN = ("dagster", "great_expectations", "polars")

UNZIPPED_LIMIT = 262_144_000  # Lambda: 250 MB unzipped, function and layers together.
# Above 50 MB zipped Lambda takes code only from S3, which is how Terraform deploys it anyway.
ZIPPED_DIRECT_UPLOAD_LIMIT = 52_428_800
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

# Only what no code path imports at run time: test suites, type stubs, Cython sources, C
# headers, console scripts, pyarrow's Flight RPC (no module outside pyarrow.flight links
# libarrow_flight) and the unversioned aliases of pyarrow's libraries (the extension modules
# load them by SONAME, `libX.so.<major>`). `--verify` then imports the handlers and round-trips
# Parquet with what is left.
STRIP_DIRS = {"__pycache__", "tests", "testing_data"}
STRIP_SUFFIXES = (".pyc", ".pyi", ".pyx", ".pxd", ".pxi", ".h", ".hpp", ".cc", ".cpp")
STRIP_PATHS = ("bin", "pyarrow/include", "pyarrow/src", "numpy/_core/include", "numpy/f2py/src")
STRIP_GLOBS = (
    "pyarrow/flight.py",
    "pyarrow/_flight.*.so",
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/_pyarrow_cpp_tests.*.so",
)


class BuildError(Exception):
    """A build problem the user can act on; the message is one sentence."""


@dataclass(frozen=True)
class Package:
    name: str
    path: Path
    zipped: int
    unzipped: int
    files: int
    versions: dict[str, str]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def module_file(module: str) -> Path | None:
    path = ROOT / Path(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def third_party_imports(handler_module: str) -> set[str]:
    """Top-level non-stdlib modules imported anywhere in the handler's lambda_bridge closure."""
    seen: set[str] = set()
    found: set[str] = set()
    todo = [handler_module]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = module_file(module)
        if path is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                top = name.split(".")[0]
                if top == PACKAGE:
                    todo.append(name)
                elif top not in sys.stdlib_module_names:
                    found.add(top)
        parent = module.rpartition(".")[0]
        if parent:
            todo.append(parent)
    return found


def requirements_for(handler: str) -> list[str]:
    """The distributions (with pyproject.toml's version ranges) the handler needs packed."""
    imports = third_party_imports(handler.rpartition(".")[0]) - RUNTIME_PROVIDED
    unknown = sorted(imports - DISTRIBUTIONS.keys())
    if unknown:
        msg = f"{handler} imports {', '.join(unknown)}, which deploy/build.py does not know how to pack: add it to DISTRIBUTIONS"
        raise BuildError(msg)
    ranges = {}
    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)", spec)
        if match:
            ranges[_norm(match.group(1))] = spec.strip()
    return sorted(ranges.get(_norm(DISTRIBUTIONS[i]), DISTRIBUTIONS[i]) for i in imports)


def platform_tags(python: str, arch: str) -> list[str]:
    """Every manylinux tag the runtime's glibc satisfies (pip does not expand 2_x tags itself)."""
    wheel_arch = WHEEL_ARCH[arch]
    tags = [f"manylinux2014_{wheel_arch}"]
    tags += [f"manylinux_2_{minor}_{wheel_arch}" for minor in range(17, RUNTIME_GLIBC[python] + 1)]
    return tags


def pip_install(
    requirements: list[str], target: Path, python: str, arch: str, constraints: Path | None
) -> None:
    command = [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile",
        "--target", str(target),
        "--implementation", "cp",
        "--python-version", python,
        "--only-binary=:all:",
        "--upgrade",
    ]  # fmt: skip
    for tag in platform_tags(python, arch):
        command += ["--platform", tag]
    if constraints is not None:
        command += ["--constraint", str(constraints)]
    result = subprocess.run([*command, *requirements], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise BuildError(detail)


def lock_constraints(tmp: Path) -> Path | None:
    lock = ROOT / "requirements.lock"
    if not lock.is_file():
        return None
    pins = [
        line for line in lock.read_text().splitlines() if re.match(r"^[A-Za-z0-9_.\-]+==", line)
    ]
    path = tmp / "constraints.txt"
    path.write_text("\n".join(pins) + "\n")
    return path


def installed_versions(target: Path) -> dict[str, str]:
    versions = {}
    for info in target.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        versions[_norm(name)] = version
    return versions


def locked_versions() -> dict[str, str]:
    lock = ROOT / "requirements.lock"
    if not lock.is_file():
        return {}
    pins = (line.split("==", 1) for line in lock.read_text().splitlines() if "==" in line)
    return {_norm(name): version.strip() for name, version in pins}


def strip(target: Path) -> None:
    for rel in STRIP_PATHS:
        shutil.rmtree(target / rel, ignore_errors=True)
    for pattern in STRIP_GLOBS:
        for path in target.glob(pattern):
            path.unlink()
    # libX.so and libX.so.M.m.p are copies of libX.so.M (wheels cannot hold symlinks).
    libs = list(target.glob("pyarrow/lib*.so*"))
    sonames = {p.name for p in libs if re.fullmatch(r"lib.+\.so\.\d+", p.name)}
    for lib in libs:
        base = re.match(r"^(lib.+?\.so)", lib.name)
        if (
            lib.name not in sonames
            and base
            and any(n.startswith(f"{base.group(1)}.") for n in sonames)
        ):
            lib.unlink()
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_dir() and path.name in STRIP_DIRS:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in STRIP_SUFFIXES:
            path.unlink()


def copy_code(target: Path) -> None:
    shutil.copytree(
        ROOT / PACKAGE,
        target / PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "*_tests"),
    )
    contracts = target / "contracts"
    contracts.mkdir()
    files = sorted([*CONTRACTS_DIR.glob("*.yaml"), *CONTRACTS_DIR.glob("*.yml")])
    if not files:
        msg = f"no contracts found in {CONTRACTS_DIR.relative_to(ROOT)}"
        raise BuildError(msg)
    for path in files:
        shutil.copy2(path, contracts / path.name)


def check_contents(name: str, target: Path) -> None:
    tops = {_norm(p.name.split("-")[0]).replace("-", "_") for p in target.iterdir()}
    leaked = sorted(f for f in FORBIDDEN if f in tops)
    if leaked:
        msg = f"{name}.zip would contain {', '.join(leaked)}, which must never ship in a Lambda package"
        raise BuildError(msg)


def tree_size(target: Path) -> tuple[int, int]:
    files = [p for p in target.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def write_zip(target: Path, zip_path: Path) -> None:
    """A reproducible zip: sorted entries, fixed timestamps, so unchanged code keeps its hash."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in target.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(target).as_posix(), date_time=ZIP_EPOCH)
            executable = path.suffix == ".so" or ".so." in path.name or os.access(path, os.X_OK)
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(zip_path)


def build_one(name: str, handler: str, python: str, arch: str, out: Path, tmp: Path) -> Package:
    target = tmp / name
    requirements = requirements_for(handler)
    constraints = lock_constraints(tmp)
    try:
        pip_install(requirements, target, python, arch, constraints)
    except BuildError:
        if constraints is None:
            raise
        # A locked version has no wheel for this runtime's glibc: take the newest that has one.
        shutil.rmtree(target, ignore_errors=True)
        pip_install(requirements, target, python, arch, None)
    versions = installed_versions(target)
    strip(target)
    copy_code(target)
    check_contents(name, target)
    unzipped, files = tree_size(target)
    if unzipped > UNZIPPED_LIMIT:
        msg = f"{name}.zip would unzip to {unzipped / 1e6:.1f} MB, over Lambda's 250 MB limit"
        raise BuildError(msg)
    zip_path = out / f"{name}.zip"
    write_zip(target, zip_path)
    return Package(name, zip_path, zip_path.stat().st_size, unzipped, files, versions)


def find_interpreter(python: str) -> str | None:
    found = shutil.which(f"python{python}")
    if found is None:
        return None
    # pyenv shims exist for versions that are not installed: ask the interpreter itself.
    probe = subprocess.run(
        [found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return found if probe.stdout.strip() == python else None


# Run by the target interpreter inside each unpacked zip (see `verify`).
VERIFY_SCRIPT = Path(__file__).with_name("verify_package.py")


def verify(packages: list[Package], python: str, arch: str, tmp: Path) -> list[str]:
    """Import each handler from its unpacked zip in a clean interpreter; a line per package."""
    host_arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
    if host_arch.get(platform.machine().lower()) != arch:
        return [f"verify: skipped (this machine is {platform.machine()}, the packages are {arch})"]
    interpreter = find_interpreter(python)
    if interpreter is None:
        return [f"verify: skipped (no python{python} on PATH)"]
    runtime = tmp / "runtime"
    # The runtime's boto3, as /var/runtime provides it on Lambda.
    pip_install(["boto3"], runtime, python, arch, lock_constraints(tmp))
    lines = []
    for package in packages:
        task = tmp / f"task-{package.name}"
        with zipfile.ZipFile(package.path) as zf:
            zf.extractall(task)
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{task}{os.pathsep}{runtime}",
            "LANG": "C.UTF-8",
        }
        # -S: no site-packages of this machine; only the package and the runtime's boto3.
        result = subprocess.run(
            [interpreter, "-S", str(VERIFY_SCRIPT), FUNCTIONS[package.name]],
            capture_output=True, text=True, env=env, cwd=task, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            msg = f"{package.name}.zip does not import on python{python}: {last}"
            raise BuildError(msg)
        report = json.loads(result.stdout.strip().splitlines()[-1])
        if report["banned"]:
            msg = f"{package.name}.zip imported {', '.join(report['banned'])}"
            raise BuildError(msg)
        parquet = " and round-trips a Parquet row per contract" if report["parquet_rows"] else ""
        lines.append(
            f"verify: {package.name}: {report['handler']} imports{parquet} on python{python} "
            f"with only the package and boto3 on the path; contracts: {', '.join(report['contracts'])}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Lambda deployment packages.")
    parser.add_argument(
        "--python", choices=sorted(RUNTIME_GLIBC), default="3.12", help="Lambda runtime version"
    )
    parser.add_argument(
        "--arch", choices=sorted(WHEEL_ARCH), default="x86_64", help="Lambda architecture"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "dist", help="output folder (default: dist)"
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip importing the handlers from the zips"
    )
    args = parser.parse_args(argv)
    out: Path = args.out if args.out.is_absolute() else Path.cwd() / args.out

    locked = locked_versions()
    try:
        with tempfile.TemporaryDirectory(prefix="elt-build-") as tmp_name:
            tmp = Path(tmp_name)
            packages = [
                build_one(name, handler, args.python, args.arch, out, tmp)
                for name, handler in FUNCTIONS.items()
            ]
            checks = [] if args.no_verify else verify(packages, args.python, args.arch, tmp)
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1

    print(
        f"Lambda packages for python{args.python} on {args.arch} (glibc <= 2.{RUNTIME_GLIBC[args.python]}):"
    )
    for p in packages:
        digest = hashlib.sha256(p.path.read_bytes()).hexdigest()[:12]
        shown = os.path.relpath(p.path, Path.cwd())
        print(
            f"  {shown}: {p.zipped / 1e6:.1f} MB zipped, {p.unzipped / 1e6:.1f} MB unzipped "
            f"({p.unzipped / UNZIPPED_LIMIT:.0%} of the 250 MB limit), {p.files} files, sha256 {digest}"
        )
        if p.zipped > ZIPPED_DIRECT_UPLOAD_LIMIT:
            print(
                "    over 50 MB zipped: Lambda must take it from S3 (the Terraform lambda module does)"
            )
        deps = ", ".join(f"{n} {v}" for n, v in sorted(p.versions.items()))
        print(f"    {deps}")
        drift = [
            f"{n} {v} (requirements.lock: {locked[n]})"
            for n, v in sorted(p.versions.items())
            if n in locked and locked[n] != v
        ]
        if drift:
            print(
                f"    note: not the locked versions, no wheel for this runtime's glibc: {', '.join(drift)}"
            )
    for line in checks:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
