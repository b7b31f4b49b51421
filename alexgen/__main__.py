"""Allow `python -m alexgen`."""

from alexgen.cli import main

main()
