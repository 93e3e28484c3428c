import sys

from labcli.cli import main

sys.exit(main())
