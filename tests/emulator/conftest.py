"""Shared fixtures: one emulator over real HTTP per test session, reset before every test, and a
contract checker that sees every request and response the tests exchange with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from emulator_helpers import TODAY, Api, company_a, company_b

from bookspot_devkit.contract import ContractChecker
from bookspot_devkit.emulator.config import EmulatorConfig
from bookspot_devkit.emulator.server import EmulatorServer


@pytest.fixture(scope="session")
def contract() -> ContractChecker:
    return ContractChecker()


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(companies=[company_a(), company_b()], today=TODAY)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_and_contract_clean(request: pytest.FixtureRequest, contract: ContractChecker) -> Iterator[None]:
    server = request.getfixturevalue("emulator") if "emulator" in request.fixturenames else None
    if server is not None:
        server.reset()
    seen = len(contract.violations)
    yield
    new = contract.violations[seen:]
    assert not new, "contract violations:\n" + "\n".join(str(v) for v in new)


def _api(server: EmulatorServer, index: int, checker: ContractChecker) -> Api:
    return Api(server, server.config.companies[index], checker)


@pytest.fixture
def anon_a(emulator: EmulatorServer, contract: ContractChecker, _fresh_and_contract_clean: None) -> Api:
    return _api(emulator, 0, contract)


@pytest.fixture
def api_a(emulator: EmulatorServer, contract: ContractChecker, _fresh_and_contract_clean: None) -> Api:
    return _api(emulator, 0, contract).login()


@pytest.fixture
def api_b(emulator: EmulatorServer, contract: ContractChecker, _fresh_and_contract_clean: None) -> Api:
    return _api(emulator, 1, contract).login()


@pytest.fixture
def raw(emulator: EmulatorServer) -> requests.Session:
    """A session without the contract check, for requests the spec itself forbids."""
    return requests.Session()
