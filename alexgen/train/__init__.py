"""`alexgen train`: the generated Keras and PyTorch modules trained with one set of semantics.

Nothing here imports torch or tensorflow at import time: `loop_torch` and `loop_keras` import their framework, and
`command.run_train` imports only the loop it runs.
"""

from alexgen.train.settings import Settings, SettingsError, resolve_settings

__all__ = ["Settings", "SettingsError", "resolve_settings"]
