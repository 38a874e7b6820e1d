"""The ``ipnet-cosim`` command line: :mod:`~ipnet_cosim.cli.app` (entry point, error handling, ``doctor``) and
the commands by layer: device, model, circuit."""
