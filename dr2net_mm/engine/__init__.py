"""Engine-side pieces OpenMMLab users expect: hooks, an optimizer constructor, a log processor."""
