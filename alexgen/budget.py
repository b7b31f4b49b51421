"""The analyzer's budget: limits a spec must stay within (imported by the CLI before any model is built)."""

from __future__ import annotations

from dataclasses import dataclass

BYTES_PER_ACTIVATION = 4  # fp32
MIB = 2**20


@dataclass(frozen=True)
class Budget:
    """Limits a spec must stay within before any framework allocates anything (CLI: --max-params and
    --max-activation-mb). Activations are counted as the analyzer reports them: the input plus every layer's
    output, for one example, in fp32."""

    max_params: int = 2_000_000_000
    max_activation_bytes: int = 16 * 2**30

    @property
    def max_activation_mib(self) -> int:
        """The activation budget in MiB, as --max-activation-mb takes it."""
        return self.max_activation_bytes // MIB


DEFAULT_BUDGET = Budget()
