"""Benchmarks: lagent_nb next to lagent 0.5.0rc3 and the physical floor (see README.md here)."""
