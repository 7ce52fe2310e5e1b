"""Local stand-in for FaaSr_py: only `FaaSr_py.client.py_client_stubs` (prefect-faasr local runtime)."""
