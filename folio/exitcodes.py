"""Exit codes shared by every command (cron reads them)."""

EXIT_OK = 0  # everything succeeded
EXIT_PARTIAL = 1  # some documents failed; the rest is indexed
EXIT_FATAL = 2  # configuration or fatal error
EXIT_LOCKED = 3  # another run holds the lock
# The Ray engine: the cluster could not be reached, or started no worker or returned no
# document within run.ray_deadline_s (pipeline/engines/ray/watch.py); nothing more was written.
EXIT_RAY = 4
