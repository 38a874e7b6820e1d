"""From a trained checkpoint to crossbar netlists (issue 5; not yet implemented)."""
