"""Blueprints, one module per audience or page group."""
