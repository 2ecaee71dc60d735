"""The package's version, in a module of its own so that any module can read it without
importing the package root (which would make every importer part of an import cycle)."""

__version__ = "0.1.0"
