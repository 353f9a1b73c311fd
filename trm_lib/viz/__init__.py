"""Pictures: puzzle grids, a model's steps (`watch`), the lesson widgets, training curves, and
the TRM loop itself (`from trm_lib.viz import draw_loop`)."""

__all__ = ["HIGHLIGHTS", "draw_loop"]


def __getattr__(name: str):
    # imported on first use, so that `python -m trm_lib.viz.loop` runs the module only once
    if name in __all__:
        from trm_lib.viz import loop
        return getattr(loop, name)
    raise AttributeError(f"module 'trm_lib.viz' has no attribute {name!r}")
