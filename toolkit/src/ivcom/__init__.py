"""IVCOM toolkit: ring layouts, XenStore access, the Xen lab and benchmarks."""

__version__ = "0.1.0"
