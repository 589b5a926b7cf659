"""``python -m golden_record COMMAND``: the same as the ``golden-record`` command."""
import sys

from golden_record.cli import main

sys.exit(main())
