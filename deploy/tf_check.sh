#!/usr/bin/env bash
# Check the Terraform without a terraform binary or an AWS account:
#   1. checkov over deploy/terraform (every skip is a `#checkov:skip=...:reason` beside its resource);
#   2. the HCL tests, which parse the Terraform and compare it with the code;
#   3. `terraform fmt -check` where a terraform binary is on PATH (validate needs providers,
#      which cannot be downloaded here: the GitHub workflow runs it).
# checkov lives in its own venv (.venv-tools): its dependency pins conflict with dagster's.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.3.30"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
TOOLS=".venv-tools"
STAMP="$TOOLS/.checkov-$CHECKOV_VERSION"

if [ ! -f "$STAMP" ]; then
    echo "tf-check: installing checkov $CHECKOV_VERSION into $TOOLS" >&2
    test -x "$TOOLS/bin/python" || "$PYTHON" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
    rm -f "$TOOLS"/.checkov-*
    touch "$STAMP"
fi

if [ ! -x .venv/bin/python ]; then
    echo "tf-check: .venv is missing; run 'make install' first" >&2
    exit 2
fi

if command -v terraform >/dev/null 2>&1; then
    tf=(terraform)
    # fmt needs no CLI configuration; a TF_CLI_CONFIG_FILE naming a missing file only warns.
    if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
        tf=(env -u TF_CLI_CONFIG_FILE terraform)
    fi
    "${tf[@]}" fmt -check -recursive -diff deploy/terraform
    echo "tf-check: terraform fmt -check passed ($("${tf[@]}" version | head -n 1))" >&2
else
    echo "tf-check: no terraform binary on PATH: terraform fmt -check skipped (CI's workflow runs it)" >&2
fi

# --skip-download: no calls to the Prisma Cloud API (guidelines, severities); works offline.
start=$(date +%s)
"$TOOLS/bin/checkov" -d deploy/terraform --framework terraform --quiet --compact --skip-download
echo "tf-check: checkov passed in $(($(date +%s) - start)) s" >&2

.venv/bin/python -m pytest -q elt_assets_tests/test_terraform.py
