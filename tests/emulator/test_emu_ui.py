"""The emulator's stand-in for Tripletex's voucher page: the address a voucher link opens."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from emulator_helpers import DAY

from bookspot_devkit.emulator.server import EmulatorServer


def test_a_voucher_link_opens_the_voucher_in_its_company(emulator: EmulatorServer) -> None:
    emulator.admin(
        "POST", "companies/1001/seed_vouchers", {"count": 1, "date": DAY, "external_prefix": "<b>x"}
    )
    (voucher,) = emulator.admin("GET", "companies/1001/vouchers")["values"]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(emulator.url))
    page = requests.get(
        f"{origin}/execute/voucherMenu", params={"voucherId": voucher["id"], "contextId": 1001}, timeout=10
    )
    assert page.status_code == 200 and f"voucher {voucher['number']}-{voucher['year']}" in page.text
    assert "&lt;b&gt;x-1" in page.text and "<b>x" not in page.text
    other = requests.get(
        f"{origin}/execute/voucherMenu", params={"voucherId": voucher["id"], "contextId": 2002}, timeout=10
    )
    assert other.status_code == 404
