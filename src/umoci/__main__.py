"""``python -m umoci``: the same entry point as the ``umoci`` console script."""

from umoci.cli import run

run()
