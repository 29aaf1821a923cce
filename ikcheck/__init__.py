"""ikcheck: rules-and-audit engine for intern kontroll in Swedish kommuner."""

__version__ = "0.1.0"
