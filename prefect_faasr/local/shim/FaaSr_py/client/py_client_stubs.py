"""`from FaaSr_py.client.py_client_stubs import faasr_invocation_id` and friends, on the local runtime.

The functions act on the faasr_* API of the current user-function process (prefect_faasr.local.api).
"""

from prefect_faasr.local.api import (
    faasr_delete_file,
    faasr_exit,
    faasr_get_file,
    faasr_get_folder_list,
    faasr_get_s3_creds,
    faasr_invocation_id,
    faasr_log,
    faasr_put_file,
    faasr_rank,
    faasr_return,
    faasr_secret,
)

__all__ = [
    "faasr_delete_file",
    "faasr_exit",
    "faasr_get_file",
    "faasr_get_folder_list",
    "faasr_get_s3_creds",
    "faasr_invocation_id",
    "faasr_log",
    "faasr_put_file",
    "faasr_rank",
    "faasr_return",
    "faasr_secret",
]
