"""Pictures: puzzle grids, a model's steps (`watch`), the lesson widgets, training curves."""
