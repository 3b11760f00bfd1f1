"""Identifiers: Thai national IDs (with check digit), G-codes, house IDs. Unique per run."""

from __future__ import annotations

import random

from equity.contracts import national_id_check_digit


class IdFactory:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value

    def national_id(self, first_digit: str, district_code: str) -> str:
        """Category digit + registering office (district) + serial + check digit."""
        def make() -> str:
            first12 = first_digit + district_code + f"{self.rng.randrange(10**7):07d}"
            return first12 + str(national_id_check_digit(first12))
        return self._unique(make)

    def g_code(self, province_code: str) -> str:
        return self._unique(lambda: "G" + province_code + f"{self.rng.randrange(10**10):010d}")

    def house_id(self, district_code: str) -> str:
        return self._unique(lambda: district_code + f"{self.rng.randrange(10**7):07d}")
