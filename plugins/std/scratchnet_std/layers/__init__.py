"""Standard layers, one module per family: ``dense`` and ``reshape``."""
