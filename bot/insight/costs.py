"""What the bot saves: contact costs per channel (`contact_costs` in the municipality
profile) and the estimate, with its assumptions stated.

    costs = profile.contact_costs or ContactCosts()          # defaults below
    saving(costs, self_served=1200)                          # {"estimate": ..., "upper_bound": ..., ...}

Defaults: cost per contact from the Alver channel strategy's table (after Digital agenda
for Norge): self-service about 3 kr, phone 40, desk visit 80, letter or e-mail 110. Which
channels citizens would otherwise use, and what share of self-served conversations would
have become a contact at all, are assumptions (demo values): NAV found that hiding its
chatbot did not raise other contacts one to one.

Stdlib only: the profile (bot.service.profile) parses the field with `parse`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

CHANNELS = ("self_service", "phone", "desk", "letter_email")
DEFAULT_PER_CONTACT = {"self_service": 3.0, "phone": 40.0, "desk": 80.0, "letter_email": 110.0}
DEFAULT_OTHERWISE = {"phone": 0.6, "letter_email": 0.3, "desk": 0.1}
DEFAULT_SUBSTITUTION = 0.5
SOURCE = "Digital agenda for Norge (Meld. St. 27 (2015–2016)), as in Alver's channel and service strategy"


@dataclass(frozen=True)
class ContactCosts:
    per_contact: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PER_CONTACT))
    otherwise: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_OTHERWISE))
    substitution: float = DEFAULT_SUBSTITUTION
    currency: str = "NOK"
    defaults: tuple[str, ...] = ("per_contact", "otherwise", "substitution")  # which values are defaults

    @property
    def otherwise_cost(self) -> float:
        """The average cost of one contact in the channels citizens would otherwise use."""
        return sum(share * self.per_contact[channel] for channel, share in self.otherwise.items())


def saving(costs: ContactCosts, self_served: int) -> dict[str, Any]:
    """The estimate for `self_served` conversations, and the upper bound (every one would
    have become a contact)."""
    per_conversation = costs.otherwise_cost - costs.per_contact["self_service"]
    return {
        "self_served": self_served,
        "per_conversation": round(per_conversation, 2),
        "otherwise_cost": round(costs.otherwise_cost, 2),
        "substitution": costs.substitution,
        "estimate": round(self_served * costs.substitution * per_conversation),
        "upper_bound": round(self_served * per_conversation),
        "currency": costs.currency,
        "per_contact": dict(costs.per_contact),
        "otherwise": dict(costs.otherwise),
        "defaults": list(costs.defaults),
    }


def parse(value: Any, error: Callable[[str, str], None]) -> ContactCosts:
    """`contact_costs` from the profile's YAML; problems go to `error(field, message)`."""
    if value is None:
        return ContactCosts()
    if not isinstance(value, dict):
        error("contact_costs", "write per_contact, otherwise and substitution (see docs/INSIGHT.md)")
        return ContactCosts()
    for key in value:
        if key not in ("per_contact", "otherwise", "substitution", "currency"):
            error(f"contact_costs.{key}", "unknown field; known fields here: per_contact, otherwise, substitution, "
                                          "currency")
    defaults = [name for name in ("per_contact", "otherwise", "substitution") if name not in value]
    per_contact = dict(DEFAULT_PER_CONTACT)
    for channel, amount in _mapping(value.get("per_contact"), "contact_costs.per_contact", error).items():
        if channel not in CHANNELS:
            error(f"contact_costs.per_contact.{channel}", f"unknown channel; use {', '.join(CHANNELS)}")
        elif (number := _number(amount)) is None or number < 0:
            error(f"contact_costs.per_contact.{channel}", f"{amount!r} is not an amount; write e.g. 40")
        else:
            per_contact[channel] = number
    otherwise = dict(DEFAULT_OTHERWISE)
    given = _mapping(value.get("otherwise"), "contact_costs.otherwise", error)
    if given:
        otherwise = {}
        for channel, share in given.items():
            if channel not in CHANNELS or channel == "self_service":
                error(f"contact_costs.otherwise.{channel}", "unknown channel; use phone, desk, letter_email")
            elif (number := _number(share)) is None or not 0 <= number <= 1:
                error(f"contact_costs.otherwise.{channel}", f"{share!r} is not a share; write a number from 0 to 1")
            else:
                otherwise[channel] = number
        if otherwise and abs(sum(otherwise.values()) - 1) > 0.001:
            error("contact_costs.otherwise", f"the shares add up to {sum(otherwise.values()):g}; they must add up to 1")
            otherwise = dict(DEFAULT_OTHERWISE)
    substitution = DEFAULT_SUBSTITUTION
    if "substitution" in value:
        number = _number(value["substitution"])
        if number is None or not 0 <= number <= 1:
            error("contact_costs.substitution", f"{value['substitution']!r} is not a share; write a number from 0 to 1")
        else:
            substitution = number
    currency = str(value.get("currency") or "NOK")
    return ContactCosts(per_contact, otherwise, substitution, currency, tuple(defaults))


def _mapping(value: Any, where: str, error: Callable[[str, str], None]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        error(where, "write one line per channel, e.g. phone: 40")
        return {}
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).replace(",", ".").strip())
    except ValueError:
        return None
