"""Code emitters, one module per target framework (render.TARGET_API lists them)."""
