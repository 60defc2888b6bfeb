"""@rudderstack/rudder-sdk-node and @segment/analytics-node from npm, default settings.

rudder-sdk-node gzips its batches and labels them ``application/x-www-form-urlencoded``
(its HTTP library's default for a buffer): the gateway goes by the body, not the label.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from browser_support import HERE, WRITE_KEY, Pipeline


@pytest.mark.parametrize("sdk", ["rudderstack", "segment"])
def test_node_sdk(pipeline: Pipeline, npm_packages: Path, sdk: str) -> None:
    user = f"node-{uuid.uuid4().hex[:10]}"
    done = subprocess.run(
        ["node", "send_node.cjs", sdk, pipeline.csroute.url, WRITE_KEY, user],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    pipeline.wait_for_user(user)
