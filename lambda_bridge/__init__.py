"""The hot-path library shared by the Lambdas and Dagster's replay.

Nothing here imports dagster or great_expectations: this package ships in a Lambda zip.
"""

__version__ = "0.1.0"
