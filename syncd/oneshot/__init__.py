"""oneshot."""
