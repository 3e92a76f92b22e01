"""``python -m colorize`` runs the ``colorize`` command."""
import sys

from .cli import main

sys.exit(main())
