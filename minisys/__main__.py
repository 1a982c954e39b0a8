import sys

from minisys.cli import main

sys.exit(main())
