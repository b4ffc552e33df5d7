"""Algorithms over a blob store: references (tags), descriptor walks, garbage collection."""
