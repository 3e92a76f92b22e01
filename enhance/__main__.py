"""``python -m enhance`` runs the ``enhance`` command."""
import sys

from .cli import main

sys.exit(main())
