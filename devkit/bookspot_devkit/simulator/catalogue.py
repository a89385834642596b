"""The simulated businesses: product catalogues, seasons, opening hours and payment habits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

VAT_PERCENT = {"25": 25, "15": 15, "12": 12, "0": 0, "exempt": 0}


class Product(NamedTuple):
    """A catalogue item; `vat_a`, `vat_b`, `vat_c` give the VAT of a gross g as (g * a + b) // c."""

    product_id: str
    name: str
    category: str
    price_minor: int
    vat_rate: str
    vat_a: int
    vat_b: int
    vat_c: int


@dataclass(frozen=True)
class TenantProfile:
    """What kind of business a simulated tenant is: its catalogue, volume, season and payment habits."""

    tenant: str
    name: str
    business: str
    season: str
    timezone: str
    currency: str
    transactions_per_day: float
    activities: tuple[Product, ...]
    extras: tuple[Product, ...]
    method_weights: tuple[tuple[str, float], ...]
    fees: tuple[tuple[str, int, int], ...]
    booking_fee: bool
    nature_fee: bool

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (for writing tenant files by hand or in demos)."""
        products = [
            {"product_id": p.product_id, "name": p.name, "category": p.category,
             "price_minor": p.price_minor, "vat_rate": p.vat_rate}
            for p in (*self.activities, *self.extras)
        ]  # fmt: skip
        return {
            "tenant": self.tenant,
            "name": self.name,
            "business": self.business,
            "season": self.season,
            "timezone": self.timezone,
            "currency": self.currency,
            "transactions_per_day": self.transactions_per_day,
            "products": products,
            "payment_methods": {m: round(w, 2) for m, w in self.method_weights if w > 0},
            "provider_fees": {m: {"percent": bp / 100, "fixed_minor": fixed} for m, bp, fixed in self.fees},
            "booking_fee": self.booking_fee,
            "nature_fee": self.nature_fee,
        }


def _p(pid: str, name: str, category: str, nok: int, rate: str) -> Product:
    r = VAT_PERCENT[rate]
    return Product(pid, name, category, nok * 100, rate, 2 * r, 100 + r, 200 + 2 * r)


BUSINESSES: dict[str, tuple[str, str, tuple[Product, ...], tuple[Product, ...]]] = {
    "kayak": (
        "Kajakk",
        "summer",
        (
            _p("p_kayak2h", "Kayak tour 2h", "activity", 595, "25"),
            _p("p_kayakday", "Kayak tour full day", "activity", 1290, "25"),
            _p("p_boat", "Fjord boat trip", "activity", 350, "12"),
            _p("p_kayak2h_child", "Kayak tour 2h – child", "activity", 395, "25"),
        ),
        (
            _p("p_dryb", "Dry bag rental", "rental", 90, "25"),
            _p("p_wetsuit", "Wetsuit rental", "rental", 150, "25"),
            _p("p_lunch", "Lunch pack", "extra", 150, "15"),
            _p("p_guidebook", "Guidebook Hardangerfjorden", "extra", 299, "0"),
        ),
    ),
    "rafting": (
        "Rafting",
        "summer",
        (
            _p("p_raft_classic", "Rafting Sjoa classic", "activity", 890, "25"),
            _p("p_raft_family", "Family rafting", "activity", 590, "25"),
            _p("p_canyon", "Canyoning half day", "activity", 1190, "25"),
            _p("p_shuttle", "River shuttle bus", "activity", 150, "12"),
        ),
        (
            _p("p_wetsuit", "Wetsuit rental", "rental", 120, "25"),
            _p("p_photos", "Photo package", "extra", 250, "25"),
            _p("p_grill", "Riverside barbecue", "extra", 295, "15"),
        ),
    ),
    "whale": (
        "Hvalsafari",
        "winter",
        (
            _p("p_whale_rib", "Whale safari RIB", "activity", 1490, "12"),
            _p("p_whale_boat", "Whale safari boat", "activity", 1190, "12"),
            _p("p_whale_child", "Whale safari – child", "activity", 690, "12"),
        ),
        (
            _p("p_suit", "Thermal suit rental", "rental", 200, "25"),
            _p("p_waffle", "Hot drink and waffle", "extra", 89, "15"),
            _p("p_whalebook", "Whales of the Arctic (book)", "extra", 349, "0"),
        ),
    ),
    "ski": (
        "Skiskole",
        "winter",
        (
            _p("p_lesson_group", "Group ski lesson 2h", "activity", 690, "25"),
            _p("p_lesson_private", "Private ski lesson 1h", "activity", 1150, "25"),
            _p("p_liftpass", "Lift pass day", "activity", 590, "12"),
            _p("p_avalanche", "Avalanche course (certified)", "activity", 2450, "exempt"),
        ),
        (
            _p("p_skirent", "Ski rental day", "rental", 450, "25"),
            _p("p_helmet", "Helmet rental", "rental", 120, "25"),
            _p("p_hotlunch", "Hot lunch", "extra", 189, "15"),
        ),
    ),
    "husky": (
        "Hundekjøring",
        "winter",
        (
            _p("p_husky2h", "Husky ride 2h", "activity", 1790, "25"),
            _p("p_husky_night", "Overnight husky tour", "activity", 6900, "25"),
            _p("p_cabin", "Wilderness cabin night", "rental", 1450, "12"),
        ),
        (
            _p("p_campdinner", "Dinner at camp", "extra", 450, "15"),
            _p("p_suit", "Thermal suit rental", "rental", 250, "25"),
            _p("p_photos", "Photo package", "extra", 390, "25"),
        ),
    ),
    "cruise": (
        "Fjordcruise",
        "summer",
        (
            _p("p_cruise3h", "Fjord cruise 3h", "activity", 690, "12"),
            _p("p_ferry", "Round trip ferry", "activity", 420, "12"),
            _p("p_cruise_child", "Fjord cruise – child", "activity", 345, "12"),
        ),
        (
            _p("p_bikecarry", "Bike transport", "extra", 150, "12"),
            _p("p_onboardlunch", "Lunch on board", "extra", 265, "15"),
            _p("p_fjordbook", "Fjords of Norway (book)", "extra", 299, "0"),
        ),
    ),
    "climbing": (
        "Klatrepark",
        "summer",
        (
            _p("p_park", "Climbing park admission", "activity", 395, "12"),
            _p("p_ferrata", "Via ferrata guided", "activity", 1290, "25"),
            _p("p_belay", "Belay certification course", "activity", 950, "exempt"),
            _p("p_park_child", "Climbing park – child", "activity", 295, "12"),
        ),
        (
            _p("p_harness", "Harness rental", "rental", 50, "25"),
            _p("p_snack", "Snack box", "extra", 79, "15"),
        ),
    ),
    "bike": (
        "Sykkelutleie",
        "summer",
        (
            _p("p_guided_bike", "Guided bike tour", "activity", 890, "25"),
            _p("p_rallar_train", "Rallarvegen train transfer", "activity", 390, "12"),
            _p("p_ebike", "E-bike rental day", "rental", 790, "25"),
        ),
        (
            _p("p_bikehelmet", "Helmet rental", "rental", 50, "25"),
            _p("p_packedlunch", "Packed lunch", "extra", 139, "15"),
            _p("p_trailmap", "Trail map book", "extra", 199, "0"),
        ),
    ),
    "aurora": (
        "Nordlys",
        "winter",
        (
            _p("p_aurora_bus", "Northern lights bus chase", "activity", 1290, "12"),
            _p("p_aurora_camp", "Aurora camp evening", "activity", 1590, "25"),
            _p("p_planetarium", "Planetarium admission", "activity", 180, "12"),
        ),
        (
            _p("p_suit", "Thermal suit rental", "rental", 200, "25"),
            _p("p_portrait", "Aurora portrait photo", "extra", 390, "25"),
            _p("p_aurorabook", "Aurora guidebook", "extra", 249, "0"),
        ),
    ),
}
PLACES = (
    "Lofoten", "Geiranger", "Voss", "Tromsø", "Senja", "Hemsedal", "Trysil", "Sjoa", "Flåm", "Alta",
    "Lyngen", "Hardanger", "Jotunheimen", "Helgeland", "Stryn", "Rjukan", "Kvitfjell", "Odda", "Andøy",
    "Vesterålen", "Tinn", "Oppdal", "Røros", "Narvik",
)  # fmt: skip
REBOOKING = _p("p_rg", "Rebooking guarantee", "rebooking_guarantee", 49, "25")
REBOOKING_GROUP = _p("p_rg_group", "Rebooking guarantee (group)", "rebooking_guarantee", 99, "25")
BOOKING_FEE = _p("p_bookingfee", "Booking fee", "fee", 39, "25")
NATURE_FEE = _p("p_naturefee", "Local nature fee", "fee", 20, "exempt")
GIFT_CARDS = (
    (_p("gc_500", "Gift card 500", "gift_card", 500, "0"), 3),
    (_p("gc_1000", "Gift card 1000", "gift_card", 1000, "0"), 4),
    (_p("gc_1500", "Gift card 1500", "gift_card", 1500, "0"), 1),
    (_p("gc_2000", "Gift card 2000", "gift_card", 2000, "0"), 2),
)
BASE_METHOD_WEIGHTS = {
    "stripe": 34.0,
    "vipps": 24.0,
    "dintero": 8.0,
    "card_terminal": 17.0,
    "cash": 3.0,
    "invoice": 5.0,
    "bank_transfer": 3.0,
    "gift_card": 5.0,
}
FIXED_FEES = {"stripe": 180, "dintero": 100, "vipps": 50}
SEASONS = {
    "summer": (0.25, 0.3, 0.4, 0.6, 1.0, 1.8, 2.4, 1.9, 1.0, 0.5, 0.35, 0.5),
    "winter": (1.6, 2.0, 1.8, 0.9, 0.3, 0.4, 0.5, 0.4, 0.5, 0.8, 1.3, 1.6),
}
WEEKDAYS = (0.75, 0.75, 0.8, 0.9, 1.1, 1.5, 1.3)
HOURS_ONLINE = (
    0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.0, 2.6, 2.6, 2.4,
    2.4, 2.2, 2.2, 2.2, 2.3, 2.5, 2.8, 3.2, 3.4, 3.0, 2.0, 0.9,
)  # fmt: skip
HOURS_ONSITE = (
    0, 0, 0, 0, 0, 0, 0, 0.3, 1.5, 3.0, 3.5, 3.5,
    3.2, 3.2, 3.0, 2.8, 2.4, 2.0, 1.4, 0.8, 0.3, 0, 0, 0,
)  # fmt: skip
