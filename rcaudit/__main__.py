"""`python -m rcaudit` is the `rcaudit` command."""

import sys

from rcaudit.cli import main

sys.exit(main())
