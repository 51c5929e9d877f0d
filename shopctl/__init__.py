"""shopctl: shop administration and simulation from the command line."""

__version__ = "0.1.0"
