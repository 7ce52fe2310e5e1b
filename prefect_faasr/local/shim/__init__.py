"""Stand-in for the real `FaaSr_py` package, put on sys.path only inside local user-function processes."""
