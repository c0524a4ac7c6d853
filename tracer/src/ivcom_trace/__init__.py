"""ivcom-trace: live ring inspection, event channel and hypercall tracing."""

__version__ = "0.1.0"
