"""Tripletex's default chart of accounts (NS 4102) and VAT types (SAF-T codes) for a new company."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .config import AccountSpec


@dataclass(frozen=True)
class VatTypeDef:
    """A VAT type: `id` differs from the SAF-T `number` for some types, as in Tripletex."""

    id: int
    number: str
    name: str
    percentage: Decimal
    vat_account: int | None = None


VAT_TYPES: tuple[VatTypeDef, ...] = (
    VatTypeDef(1, "0", "Ingen avgiftsbehandling", Decimal("0")),
    VatTypeDef(2, "1", "Fradrag inngående avgift, høy sats", Decimal("25"), 2710),
    VatTypeDef(3, "3", "Utgående avgift, høy sats", Decimal("25"), 2700),
    VatTypeDef(5, "5", "Ingen utgående avgift (innenfor mva-loven)", Decimal("0")),
    VatTypeDef(6, "6", "Ingen utgående avgift (utenfor mva-loven)", Decimal("0")),
    VatTypeDef(7, "7", "Ingen avgiftsbehandling (inntekter)", Decimal("0")),
    VatTypeDef(11, "11", "Fradrag inngående avgift, middels sats", Decimal("15"), 2711),
    VatTypeDef(12, "12", "Fradrag inngående avgift, råfisk", Decimal("11.11"), 2713),
    VatTypeDef(13, "13", "Fradrag inngående avgift, lav sats", Decimal("12"), 2712),
    VatTypeDef(31, "31", "Utgående avgift, middels sats", Decimal("15"), 2701),
    VatTypeDef(33, "32", "Utgående avgift, råfisk", Decimal("11.11"), 2703),
    VatTypeDef(32, "33", "Utgående avgift, lav sats", Decimal("12"), 2702),
    VatTypeDef(52, "52", "Utførsel av varer og tjenester, fritatt", Decimal("0")),
)

_NO_VAT = ["0"]
_EXPENSE_VAT = ["0", "1", "11", "12", "13"]
_REVENUE_VAT = ["0", "3", "31", "32", "33", "5", "6", "7", "52"]


def _acc(number: int, name: str, vat: str = "0", locked: bool = False, **kw: object) -> AccountSpec:
    legal = kw.pop("legal", None)
    if legal is None:
        legal = [vat] if locked else (_REVENUE_VAT if 3000 <= number < 4000 else _EXPENSE_VAT)
    return AccountSpec(
        number=number,
        name=name,
        vat_number=vat,
        vat_locked=locked,
        legal_vat_numbers=list(legal),
        **kw,  # type: ignore[arg-type]
    )


DEFAULT_ACCOUNTS: tuple[AccountSpec, ...] = (
    _acc(1200, "Maskiner og anlegg", ledger_type="ASSET"),
    _acc(1250, "Inventar"),
    _acc(1500, "Kundefordringer", locked=True, ledger_type="CUSTOMER"),
    _acc(1570, "Andre kortsiktige fordringer"),
    _acc(1579, "Andre kortsiktige fordringer, diverse"),
    _acc(1700, "Forskuddsbetalt kostnad"),
    _acc(1900, "Kontanter", locked=True),
    _acc(1920, "Bankinnskudd", locked=True, is_bank_account=True),
    _acc(1950, "Bankinnskudd for skattetrekk", locked=True, is_bank_account=True),
    _acc(2000, "Aksjekapital", locked=True),
    _acc(2050, "Annen egenkapital", locked=True),
    _acc(2400, "Leverandørgjeld", locked=True, ledger_type="VENDOR"),
    _acc(2600, "Forskuddstrekk", locked=True),
    _acc(2700, "Utgående merverdiavgift, høy sats", locked=True),
    _acc(2701, "Utgående merverdiavgift, middels sats", locked=True),
    _acc(2702, "Utgående merverdiavgift, lav sats", locked=True),
    _acc(2703, "Utgående merverdiavgift, råfisk", locked=True),
    _acc(2710, "Inngående merverdiavgift, høy sats", locked=True),
    _acc(2711, "Inngående merverdiavgift, middels sats", locked=True),
    _acc(2712, "Inngående merverdiavgift, lav sats", locked=True),
    _acc(2713, "Inngående merverdiavgift, råfisk", locked=True),
    _acc(2740, "Oppgjørskonto merverdiavgift", locked=True),
    _acc(2900, "Forskudd fra kunder", legal=_NO_VAT),
    _acc(2910, "Gjeld til ansatte og eiere", locked=True, ledger_type="EMPLOYEE"),
    _acc(2930, "Skyldig lønn", locked=True),
    _acc(2965, "Forskuddsbetalt inntekt", legal=_NO_VAT),
    _acc(2990, "Annen kortsiktig gjeld", legal=_NO_VAT),
    _acc(3000, "Salgsinntekt, avgiftspliktig", "3", locked=True),
    _acc(3001, "Salgsinntekt, avgiftspliktig, middels sats", "31", locked=True),
    _acc(3002, "Salgsinntekt, avgiftspliktig, lav sats", "33", locked=True),
    _acc(3100, "Salgsinntekt, avgiftsfri", "5", locked=True),
    _acc(3200, "Salgsinntekt, utenfor avgiftsområdet", "6", locked=True),
    _acc(3400, "Offentlig tilskudd/refusjon", "7"),
    _acc(3900, "Annen driftsrelatert inntekt", "0"),
    _acc(4000, "Innkjøp av råvarer og halvfabrikata", "1"),
    _acc(4300, "Innkjøp av varer for videresalg", "1"),
    _acc(5000, "Lønn til ansatte", locked=True),
    _acc(6300, "Leie lokale", "0"),
    _acc(6540, "Inventar", "1"),
    _acc(6800, "Kontorrekvisita", "1"),
    _acc(7100, "Bilgodtgjørelse, oppgavepliktig", "0", requires_department=True),
    _acc(7350, "Representasjon, fradragsberettiget", "1", requires_project=True),
    _acc(7740, "Øreavrunding", locked=True),
    _acc(7770, "Bank og kortgebyrer", "0"),
    _acc(7790, "Annen kostnad, fradragsberettiget", "1"),
    _acc(8040, "Renteinntekt, skattefri", locked=True),
    _acc(8150, "Annen rentekostnad", locked=True),
    _acc(8960, "Overføringer annen egenkapital", locked=True),
)


def account_type(number: int) -> str:
    """Tripletex's account `type` from the NS 4102 class of the number."""
    if number < 2000:
        return "ASSETS"
    if number < 2100:
        return "EQUITY"
    if number < 3000:
        return "LIABILITIES"
    if number < 4000:
        return "OPERATING_REVENUES"
    if number < 8000:
        return "OPERATING_EXPENSES"
    if number < 8100:
        return "INVESTMENT_INCOME"
    if number < 8300:
        return "COST_OF_CAPITAL"
    if number < 8400:
        return "TAX_ON_ORDINARY_ACTIVITIES"
    if number < 8900:
        return "ANNUAL_RESULT"
    return "TRANSFERS_AND_ALLOCATIONS"


def balance_group(number: int) -> str:
    return {1: "Eiendeler", 2: "Egenkapital og gjeld"}.get(number // 1000, "Resultat")
