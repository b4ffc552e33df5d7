"""``python -m umoci``: the same entry point as the ``umoci`` console script.

Internal: the command line is the interface; the Python API is :mod:`umoci.api`.
"""

from umoci.cli import run

run()
