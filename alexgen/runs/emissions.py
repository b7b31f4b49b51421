"""Energy and CO2 of a training run, measured offline by codecarbon (the `emissions` extra), as seed 002 does."""

from __future__ import annotations

import importlib.util
import logging
import re
from pathlib import Path
from typing import Any

from alexgen.runs.trackers import TrackerError, not_installed

EMISSIONS_CSV = "emissions.csv"
COUNTRY = re.compile(r"[A-Z]{3}")


def check_emissions(country: str | None) -> None:
    """TrackerError now, before a run folder exists, for a malformed country or a missing codecarbon."""
    if country is None:
        return
    if not COUNTRY.fullmatch(country):
        raise TrackerError(f"--emissions {country!r}: give the country's ISO 3166 alpha-3 code, e.g. USA, FRA, DEU")
    if importlib.util.find_spec("codecarbon") is None:
        raise not_installed("--emissions", "codecarbon", "emissions", "; nothing was written")


class Emissions:
    """codecarbon's offline tracker, writing RUN_DIR/emissions.csv; started on creation."""

    def __init__(self, run_dir: Path, country: str) -> None:
        from codecarbon import OfflineEmissionsTracker

        logger = logging.getLogger("codecarbon")
        logger.disabled = True  # its start-up lines (INFO and a WARNING) would interleave with ours
        try:
            self.tracker: Any = OfflineEmissionsTracker(
                country_iso_code=country,
                output_dir=str(run_dir),
                output_file=EMISSIONS_CSV,
                project_name="alexgen",
                log_level="error",
                save_to_file=True,
            )
            self.tracker.start()
        except Exception as exc:  # codecarbon raises plain exceptions (an unknown country among them)
            raise TrackerError(f"--emissions {country}: codecarbon could not start ({exc})") from exc
        finally:
            logger.disabled = False  # errors while measuring still show (log_level="error")

    def stop(self) -> dict[str, float]:
        """Stop measuring; the energy (kWh) and emissions (kg CO2-equivalent) since the start."""
        kilograms = self.tracker.stop()
        energy = getattr(self.tracker.final_emissions_data, "energy_consumed", 0.0)
        return {"emissions_kg_co2eq": float(kilograms or 0.0), "energy_kwh": float(energy or 0.0)}
