import sys

from ipnet_cosim.cli.app import main

sys.exit(main())
