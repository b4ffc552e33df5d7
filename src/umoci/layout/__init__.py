"""Algorithms over a blob store: references (tags), descriptor walks, garbage collection.

Internal: this package and its modules are not part of the public API, which is
:mod:`umoci.api`; they may change in any release.
"""
