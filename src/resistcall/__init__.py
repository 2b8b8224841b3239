"""resistcall: DNA-level causes of kinase-inhibitor resistance from parental vs resistant panels."""

__version__ = "0.1.0"
