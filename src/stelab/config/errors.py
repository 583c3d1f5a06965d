"""The one error type of every config check."""


class ConfigError(ValueError):
    """A configuration value or file is invalid; the message names the key (or the file)."""
