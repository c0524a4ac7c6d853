"""`python -m ivcom_trace`."""
import sys

from ivcom_trace.cli import main

sys.exit(main())
