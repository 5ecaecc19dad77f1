"""syncd's exit codes (product.md §2), shared by the command line and the drivers."""

EXIT_OK = 0  # success
EXIT_FAILED = 1  # runtime failure, or `sync` finished with files that failed to upload
EXIT_USAGE = 2  # usage error (argparse's own)
EXIT_CONFIG = 3  # invalid configuration or rejected credentials (RestartPreventExitStatus=3)
