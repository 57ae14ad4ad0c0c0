"""Benchmarks (AFLW2000-3D alignment, AFW detection, stability); each module registers one ``tddfa eval`` command."""
