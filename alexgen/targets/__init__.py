"""Code emitters, one module per target framework."""
