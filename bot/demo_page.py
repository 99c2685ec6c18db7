"""The demo page of each municipality (a stand-in for its website with the chat widget),
made from its profile in its own written standard. The staff portal serves the default
municipality's at / and every municipality's at /demo/<slug>; each links the others.

    html = demo_page(registry().get("ullensaker"), rasa_url="http://127.0.0.1:5005",
                     others=list(registry()))
"""

from __future__ import annotations

from html import escape
from typing import Any

from bot.service.municipalities import template_values
from bot.service.profile import Profile
from bot.service.texts import schedule_text

TEXTS = {
    "nn": {
        "skip": "Gå til hovudinnhaldet",
        "welcome": "Velkomen til {name}",
        "note": ("Dette er ei demoside for Kommunebot, ikkje dei offisielle sidene til {name}. "
                 "Chatten nede i høgre hjørne svarar på spørsmål om kommunen."),
        "contact": "Kontakt oss",
        "call": "Ring oss på {phone} ({hours}).",
        "desks": "Her finn du oss",
        "demos": "Demokommunar",
        "standard": {"nn": "nynorsk", "nb": "bokmål"},
        "email": "E-post",
    },
    "nb": {
        "skip": "Gå til hovedinnholdet",
        "welcome": "Velkommen til {name}",
        "note": ("Dette er en demoside for Kommunebot, ikke de offisielle sidene til {name}. "
                 "Chatten nede i høyre hjørne svarer på spørsmål om kommunen."),
        "contact": "Kontakt oss",
        "call": "Ring oss på {phone} ({hours}).",
        "desks": "Her finner du oss",
        "demos": "Demokommuner",
        "standard": {"nn": "nynorsk", "nb": "bokmål"},
        "email": "E-post",
    },
}


def demo_page(profile: Profile, rasa_url: str, others: list[Profile]) -> str:
    """The whole HTML page; every value is escaped."""
    lang = profile.default_language
    t: dict[str, Any] = TEXTS[lang]
    values = template_values(profile, lang)
    name = escape(profile.name)
    current = ' aria-current="page"'
    demos = "\n".join(
        f'          <li><a href="/demo/{escape(p.slug)}"{current if p.slug == profile.slug else ""}'
        f' lang="{p.default_language}">{escape(p.name)}</a> ({t["standard"][p.default_language]})</li>'
        for p in others)
    desks = "\n".join(
        f"      <li><strong>{escape(d.display)}</strong>{', ' + escape(d.place) if d.place else ''}: "
        f"{escape(d.address)} – {escape(schedule_text(d.hours).get(lang))}.</li>"
        for d in profile.service_desks)
    phone_link = "+47" + "".join(ch for ch in profile.contact.phone if ch.isdigit())
    call = escape(t["call"].format(phone="\x00", hours=values["phone_hours"])).replace(
        "\x00", f'<a href="tel:{phone_link}">{escape(profile.contact.phone)}</a>')
    return f"""<!doctype html>
<html lang="{lang}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{name} – demoside for Kommunebot</title>
  <link rel="stylesheet" href="/widget/demo.css">
</head>
<body>
  <a class="skip" href="#hovudinnhald">{t["skip"]}</a>
  <header>
    <div class="inner">
      <a class="brand" href="/demo/{escape(profile.slug)}">{name}</a>
      <nav aria-label="{t["demos"]}">
        <ul>
{demos}
        </ul>
      </nav>
    </div>
  </header>
  <main id="hovudinnhald">
    <h1>{escape(t["welcome"].format(name=profile.name))}</h1>
    <p class="demo-note">{escape(t["note"].format(name=profile.name))}</p>
    <h2>{t["contact"]}</h2>
    <p>{call}</p>
    <h2>{t["desks"]}</h2>
    <ul>
{desks}
    </ul>
  </main>
  <footer>
    <div class="inner">
      <p>{escape(profile.contact.postal_address)}. {t["email"]}:
        <a href="mailto:{escape(profile.contact.email)}">{escape(profile.contact.email)}</a></p>
    </div>
  </footer>
  <script src="/widget/kommunebot.js" data-server="{escape(rasa_url)}" data-lang="{lang}"
          data-municipality="{escape(profile.slug)}" data-phone="{escape(profile.contact.phone)}"></script>
</body>
</html>
"""
