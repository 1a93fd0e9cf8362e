"""`python -m elt_assets.cli`: the `elt` command without its console script."""

import sys

from elt_assets.cli.main import main

sys.exit(main())
