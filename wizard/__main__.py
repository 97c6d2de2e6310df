"""`python -m wizard` is the same as the `xacct-wizard` command."""

import sys

from wizard.cli import main

sys.exit(main())
