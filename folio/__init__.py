"""Folio core: the Element type, configuration, errors and shared helpers.

Nothing in this package imports a stage (partition/, enrich/, index/, ...).
"""

__version__ = "0.1.0"
