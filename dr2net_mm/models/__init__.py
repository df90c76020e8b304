"""Registered model wrappers (config faces of the methods)."""
