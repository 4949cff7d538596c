"""Exit codes shared by every command (cron reads them)."""

EXIT_OK = 0  # everything succeeded
EXIT_PARTIAL = 1  # some documents failed; the rest is indexed
EXIT_FATAL = 2  # configuration or fatal error
EXIT_LOCKED = 3  # another run holds the lock
