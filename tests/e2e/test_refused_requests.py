"""A broken integration is visible at once: ``csroute serve`` counts refused requests in
``/metrics`` by reason and logs them."""

from __future__ import annotations

from pathlib import Path

import httpx

from support.process import CsrouteProcess


def test_unknown_path_and_refused_preflight_are_counted_in_metrics(tmp_path: Path) -> None:
    config = {
        "sources": [
            {
                "name": "shop",
                "write_key": "wk_shop_5b8e21",
                "allowed_origins": ["https://shop.example.com"],
            }
        ]
    }
    csroute = CsrouteProcess(tmp_path, config).start()
    try:
        with httpx.Client(base_url=csroute.url) as client:
            assert client.post("/v1/identity", json={}).status_code == 404  # a typo'd path
            assert client.options("/v1/q").status_code == 404
            preflight = client.options(
                "/v1/t",
                headers={
                    "Origin": "https://elsewhere.example",
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization, content-type",
                },
            )
            assert preflight.status_code == 403
            assert "access-control-allow-origin" not in preflight.headers
            allowed = client.options("/v1/t", headers={"Origin": "https://shop.example.com"})
            assert allowed.status_code == 204
            metrics = client.get("/metrics").text
    finally:
        csroute.stop()
    assert 'csroute_gateway_requests_refused_total{reason="not_found"} 2.0' in metrics
    assert 'csroute_gateway_requests_refused_total{reason="cors_origin"} 1.0' in metrics
    log = csroute.log.read_text()
    assert "request refused with 404 not_found" in log and "'/v1/identity'" in log
    assert "request refused with 403 cors_origin" in log
