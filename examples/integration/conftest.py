"""functions/ holds the workflow's FaaSr functions; some are named test_*.py, which are not pytest tests."""

collect_ignore = ["functions"]
