"""Engine-side pieces OpenMMLab users expect: hooks."""
