"""The seeded study: every method on every demo task over several seeds, summarised with spreads."""
from .stats import Spread, compare, spread
from .variants import VARIANTS, Variant, variants_for

__all__ = ['VARIANTS', 'Spread', 'Variant', 'compare', 'spread', 'variants_for']
