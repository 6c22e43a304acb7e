"""The research platform portal from the command line; it talks only to the portal's REST API."""

__version__ = "0.1.0"
