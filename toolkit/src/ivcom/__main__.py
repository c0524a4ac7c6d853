"""`python -m ivcom`."""
import sys

from ivcom.cli import main

sys.exit(main())
