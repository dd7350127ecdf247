import sys

from tsssl.cli import main

sys.exit(main())
