"""The words of the Innsikt pages and the annual report, in Nynorsk and Bokmål (the
municipality's written standard decides which)."""

from __future__ import annotations

from datetime import date

TEXTS: dict[str, dict[str, str]] = {
    "nn": {
        "title": "Innsikt",
        "h1": "Innsikt: korleis chatboten hjelper",
        "intro": "Tala gjeld {name}. Ein samtale og alt i han tel på dagen og timen samtalen starta. "
                 "Sida viser berre samanteljingar, ingen personopplysningar.",
        "nav_insight": "Innsikt",
        "nav_unanswered": "Spørsmål utan svar",
        "nav_queue": "Kø og saker",
        "period": "Periode",
        "from": "Frå og med",
        "to": "Til og med",
        "by": "Vis per",
        "by_day": "dag", "by_week": "veke", "by_month": "månad",
        "show": "Vis",
        "date_hint": "Vel datoane i kalenderen, eller skriv dei som ÅÅÅÅ-MM-DD om nettlesaren ikkje viser kalender.",
        "bad_dates": "Datoane må vere på forma ÅÅÅÅ-MM-DD, og perioden kan ikkje slutte før han startar.",
        "key_numbers": "Hovudtal",
        "conversations": "Samtalar",
        "messages": "Meldingar frå innbyggjarar",
        "with_question": "Samtalar med spørsmål",
        "self_served": "Sjølvbetente samtalar",
        "self_service_rate": "Sjølvbeteningsgrad",
        "answered": "Spørsmål svart frå innhaldet",
        "service_answers": "Svar om opningstider, kontakt og servicetorg",
        "not_found": "Spørsmål utan svar",
        "out_of_scope": "Spørsmål om anna enn kommunen",
        "handoff_live": "Sendt til chat med ein person",
        "handoff_case": "Sendt som sak til ein person",
        "handoff_referred": "Vist til telefon eller skjema",
        "feedback_positive": "Fekk svar (tilbakemelding)",
        "feedback_negative": "Fekk ikkje svar (tilbakemelding)",
        "rate_definition": "Sjølvbeteningsgrad: samtalar med svar og utan overføring til ein person eller "
                           "«nei» på «Fekk du svar?», delt på samtalar med spørsmål.",
        "over_time": "Samtalar over tid",
        "over_time_caption": "Samtalar, spørsmål og sjølvbetening per {by}",
        "period_col": "Periode",
        "week_label": "Veke {week} {year}",
        "chart_note": "Søylene viser talet i kolonnen til venstre for dei.",
        "channels": "Kanalar",
        "channel": "Kanal",
        "languages": "Målform",
        "language": "Målform",
        "hours": "Travlaste timar",
        "hours_caption": "Samtalar og meldingar per time på døgeret",
        "hour": "Time",
        "hour_label": "kl. {a}–{b}",
        "reasons": "Kvifor innbyggjarar vart sende vidare til ein person",
        "reason": "Grunn",
        "reason_asked": "Bad om ein person",
        "reason_not_found": "Chatboten fann ikkje svar",
        "reason_own_case": "Eiga sak, faktura eller søknad",
        "reason_other": "Anna",
        "live": "Chat", "case": "Sak", "referred": "Vist vidare", "total": "I alt",
        "waiting": "Ventetid til første svar frå ein person, samanlikna med lovnaden",
        "waiting_intro": "Første svar er når ein person kjem inn i chatten eller svarar på saka "
                         "(eller lukkar ho etter å ha svart på telefon eller e-post).",
        "standard": "Kanal i tenestestandarden",
        "promised": "Lova svartid",
        "handled": "Svart",
        "within": "Innan lovnaden",
        "late": "For seint",
        "open": "Ventar på svar",
        "median": "Ventetid, median",
        "p90": "Ventetid, 9 av 10 innan",
        "feedback": "Tilbakemeldingar",
        "feedback_intro": "Etter kvart svar spør chatboten «Fekk du svar?».",
        "top_pages": "Mest brukte sider i svara",
        "page": "Side",
        "answers": "Svar",
        "yes": "Ja", "no": "Nei",
        "saves": "Kva chatboten sparar",
        "saves_text": "Anslag: {estimate} for {n} sjølvbetente samtalar. Øvre grense: {upper}.",
        "assumptions": "Føresetnader",
        "assume_costs": "Kostnad per kontakt: sjølvbetening {self_service}, telefon {phone}, oppmøte {desk}, "
                        "brev eller e-post {letter_email} ({source}).",
        "assume_otherwise": "Utan chatboten ville innbyggjarane ha brukt: {mix}. Ein kontakt der kostar då i "
                            "snitt {cost}.",
        "assume_substitution": "Berre {share} av dei sjølvbetente samtalane ville ha vorte ein kontakt "
                               "(NAV fann at ein chatbot ikkje erstattar andre kontaktar ein til ein). "
                               "Den øvre grensa reknar med at alle ville ha vorte det.",
        "assume_defaults": "Verdiar som ikkje står i profilen til kommunen, er standardverdiar: {names}.",
        "channel_phone": "telefon", "channel_desk": "oppmøte", "channel_letter_email": "brev eller e-post",
        "download": "Last ned",
        "download_intro": "Same tal som på sida, utan tekst frå innbyggjarane (opne data).",
        "csv": "Tala som CSV", "json": "Tala som JSON",
        "none": "Ingen i perioden.",
        "updated": "Rekna ut {at}.",
        # unanswered questions
        "unanswered_h1": "Spørsmål utan svar",
        "unanswered_intro": "Spørsmål chatboten ikkje fann svar på, og spørsmål der innbyggjaren sa at svaret "
                            "ikkje hjelpte, samla etter kva dei tyder. Dei største gruppene står først. Grupper "
                            "med færre enn tre samtalar viser ikkje døme, av omsyn til personvernet.",
        "group_heading": "{n} spørsmål i {c} samtalar",
        "group_kinds": "{nf} utan svar, {neg} med «nei» på svaret",
        "examples": "Døme",
        "no_examples": "Ingen døme: gruppa har færre enn tre samtalar.",
        "no_texts": "Ingen døme att: teksten blir sletta etter {days} dagar.",
        "handled_by": "Handtert {at} av {who}.",
        "handled_page": "Sida som no svarar:",
        "asked_since": "Spurt {n} gonger i perioden etter at gruppa vart merkt handtert.",
        "mark": "Merk som handtert",
        "mark_url": "Adressa til sida som no svarar på dette",
        "reopen": "Opne igjen",
        "open_groups": "Opne grupper",
        "handled_groups": "Handterte grupper",
        "ungrouped": "{n} spørsmål ventar på å bli samla i grupper.",
        "marked": "Gruppa er merkt handtert.",
        "reopened": "Gruppa er opna igjen.",
        "bad_url": "Skriv heile adressa til sida, med https:// først.",
        "unknown_group": "Fann ikkje gruppa.",
        "to_group": "Gå til gruppa.",
        "lang_nn": "Nynorsk", "lang_nb": "Bokmål",
        "channel_socketio": "Chat på nettsida", "channel_rest": "REST-API", "channel_facebook": "Messenger",
        "channel_cmdline": "Terminal (test)", "channel_unknown": "Ukjend",
        "standard_chat": "Chat", "standard_email": "Sak (e-post eller telefon)", "standard_messenger": "Messenger",
        "minutes": "{n} min", "hours_minutes": "{h} t {m} min", "days_hours": "{d} d {h} t",
        "unit_minutes": "{n} minutt", "unit_hours": "{n} timar", "unit_hour": "1 time",
        "unit_working_days": "{n} arbeidsdagar", "unit_working_day": "1 arbeidsdag",
        "unit_weeks": "{n} veker", "unit_week": "1 veke", "unit_when_open": "med ein gong i opningstida",
        # report
        "report_title": "Kanalrapport {year}: chatboten til {name}",
        "report_intro": "Rapporten viser kva chatboten har gjort for innbyggjarane og {service} i "
                        "{year}. Tala er samanteljingar; ingen personopplysningar er med.",
        "report_months": "Samtalar og sjølvbeteningsgrad per månad",
        "month_names": "januar februar mars april mai juni juli august september oktober november desember",
        "unanswered_top": "Dei største gruppene av spørsmål utan svar",
        "table_follows": "Tala står i tabellen under.",
        "questions_col": "Spørsmål",
    },
    "nb": {
        "title": "Innsikt",
        "h1": "Innsikt: hvordan chatboten hjelper",
        "intro": "Tallene gjelder {name}. En samtale og alt i den teller på dagen og timen samtalen startet. "
                 "Siden viser bare sammentellinger, ingen personopplysninger.",
        "nav_insight": "Innsikt",
        "nav_unanswered": "Spørsmål uten svar",
        "nav_queue": "Kø og saker",
        "period": "Periode",
        "from": "Fra og med",
        "to": "Til og med",
        "by": "Vis per",
        "by_day": "dag", "by_week": "uke", "by_month": "måned",
        "show": "Vis",
        "date_hint": "Velg datoene i kalenderen, eller skriv dem som ÅÅÅÅ-MM-DD hvis nettleseren ikke viser kalender.",
        "bad_dates": "Datoene må være på formen ÅÅÅÅ-MM-DD, og perioden kan ikke slutte før den starter.",
        "key_numbers": "Hovedtall",
        "conversations": "Samtaler",
        "messages": "Meldinger fra innbyggere",
        "with_question": "Samtaler med spørsmål",
        "self_served": "Selvbetjente samtaler",
        "self_service_rate": "Selvbetjeningsgrad",
        "answered": "Spørsmål besvart fra innholdet",
        "service_answers": "Svar om åpningstider, kontakt og servicetorg",
        "not_found": "Spørsmål uten svar",
        "out_of_scope": "Spørsmål om annet enn kommunen",
        "handoff_live": "Sendt til chat med en person",
        "handoff_case": "Sendt som sak til en person",
        "handoff_referred": "Vist til telefon eller skjema",
        "feedback_positive": "Fikk svar (tilbakemelding)",
        "feedback_negative": "Fikk ikke svar (tilbakemelding)",
        "rate_definition": "Selvbetjeningsgrad: samtaler med svar og uten overføring til en person eller "
                           "«nei» på «Fikk du svar?», delt på samtaler med spørsmål.",
        "over_time": "Samtaler over tid",
        "over_time_caption": "Samtaler, spørsmål og selvbetjening per {by}",
        "period_col": "Periode",
        "week_label": "Uke {week} {year}",
        "chart_note": "Søylene viser tallet i kolonnen til venstre for dem.",
        "channels": "Kanaler",
        "channel": "Kanal",
        "languages": "Målform",
        "language": "Målform",
        "hours": "Travleste timer",
        "hours_caption": "Samtaler og meldinger per time i døgnet",
        "hour": "Time",
        "hour_label": "kl. {a}–{b}",
        "reasons": "Hvorfor innbyggere ble sendt videre til en person",
        "reason": "Grunn",
        "reason_asked": "Ba om en person",
        "reason_not_found": "Chatboten fant ikke svar",
        "reason_own_case": "Egen sak, faktura eller søknad",
        "reason_other": "Annet",
        "live": "Chat", "case": "Sak", "referred": "Vist videre", "total": "I alt",
        "waiting": "Ventetid til første svar fra en person, sammenlignet med løftet",
        "waiting_intro": "Første svar er når en person kommer inn i chatten eller svarer på saken "
                         "(eller lukker den etter å ha svart på telefon eller e-post).",
        "standard": "Kanal i tjenestestandarden",
        "promised": "Lovet svartid",
        "handled": "Besvart",
        "within": "Innen løftet",
        "late": "For sent",
        "open": "Venter på svar",
        "median": "Ventetid, median",
        "p90": "Ventetid, 9 av 10 innen",
        "feedback": "Tilbakemeldinger",
        "feedback_intro": "Etter hvert svar spør chatboten «Fikk du svar?».",
        "top_pages": "Mest brukte sider i svarene",
        "page": "Side",
        "answers": "Svar",
        "yes": "Ja", "no": "Nei",
        "saves": "Hva chatboten sparer",
        "saves_text": "Anslag: {estimate} for {n} selvbetjente samtaler. Øvre grense: {upper}.",
        "assumptions": "Forutsetninger",
        "assume_costs": "Kostnad per kontakt: selvbetjening {self_service}, telefon {phone}, oppmøte {desk}, "
                        "brev eller e-post {letter_email} ({source}).",
        "assume_otherwise": "Uten chatboten ville innbyggerne ha brukt: {mix}. En kontakt der koster da i "
                            "snitt {cost}.",
        "assume_substitution": "Bare {share} av de selvbetjente samtalene ville ha blitt en kontakt "
                               "(NAV fant at en chatbot ikke erstatter andre kontakter en til en). "
                               "Den øvre grensen regner med at alle ville ha blitt det.",
        "assume_defaults": "Verdier som ikke står i profilen til kommunen, er standardverdier: {names}.",
        "channel_phone": "telefon", "channel_desk": "oppmøte", "channel_letter_email": "brev eller e-post",
        "download": "Last ned",
        "download_intro": "De samme tallene som på siden, uten tekst fra innbyggerne (åpne data).",
        "csv": "Tallene som CSV", "json": "Tallene som JSON",
        "none": "Ingen i perioden.",
        "updated": "Regnet ut {at}.",
        "unanswered_h1": "Spørsmål uten svar",
        "unanswered_intro": "Spørsmål chatboten ikke fant svar på, og spørsmål der innbyggeren sa at svaret "
                            "ikke hjalp, samlet etter hva de betyr. De største gruppene står først. Grupper "
                            "med færre enn tre samtaler viser ikke eksempler, av hensyn til personvernet.",
        "group_heading": "{n} spørsmål i {c} samtaler",
        "group_kinds": "{nf} uten svar, {neg} med «nei» på svaret",
        "examples": "Eksempler",
        "no_examples": "Ingen eksempler: gruppen har færre enn tre samtaler.",
        "no_texts": "Ingen eksempler igjen: teksten slettes etter {days} dager.",
        "handled_by": "Håndtert {at} av {who}.",
        "handled_page": "Siden som nå svarer:",
        "asked_since": "Spurt {n} ganger i perioden etter at gruppen ble merket håndtert.",
        "mark": "Merk som håndtert",
        "mark_url": "Adressen til siden som nå svarer på dette",
        "reopen": "Åpne igjen",
        "open_groups": "Åpne grupper",
        "handled_groups": "Håndterte grupper",
        "ungrouped": "{n} spørsmål venter på å bli samlet i grupper.",
        "marked": "Gruppen er merket håndtert.",
        "reopened": "Gruppen er åpnet igjen.",
        "bad_url": "Skriv hele adressen til siden, med https:// først.",
        "unknown_group": "Fant ikke gruppen.",
        "to_group": "Gå til gruppen.",
        "lang_nn": "Nynorsk", "lang_nb": "Bokmål",
        "channel_socketio": "Chat på nettsiden", "channel_rest": "REST-API", "channel_facebook": "Messenger",
        "channel_cmdline": "Terminal (test)", "channel_unknown": "Ukjent",
        "standard_chat": "Chat", "standard_email": "Sak (e-post eller telefon)", "standard_messenger": "Messenger",
        "minutes": "{n} min", "hours_minutes": "{h} t {m} min", "days_hours": "{d} d {h} t",
        "unit_minutes": "{n} minutter", "unit_hours": "{n} timer", "unit_hour": "1 time",
        "unit_working_days": "{n} arbeidsdager", "unit_working_day": "1 arbeidsdag",
        "unit_weeks": "{n} uker", "unit_week": "1 uke", "unit_when_open": "med en gang i åpningstiden",
        "report_title": "Kanalrapport {year}: chatboten til {name}",
        "report_intro": "Rapporten viser hva chatboten har gjort for innbyggerne og {service} i "
                        "{year}. Tallene er sammentellinger; ingen personopplysninger er med.",
        "report_months": "Samtaler og selvbetjeningsgrad per måned",
        "month_names": "januar februar mars april mai juni juli august september oktober november desember",
        "unanswered_top": "De største gruppene av spørsmål uten svar",
        "table_follows": "Tallene står i tabellen under.",
        "questions_col": "Spørsmål",
    },
}


class Words:
    """`w.key` or `w("key", n=3)` in one standard; unknown keys say so loudly in tests."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in TEXTS else "nn"
        self.table = TEXTS[self.lang]

    def __getattr__(self, key: str) -> str:
        try:
            return self.table[key]
        except KeyError:
            raise AttributeError(f"no insight text {key!r}") from None

    def __call__(self, key: str, **values) -> str:
        return self.table[key].format(**values)

    def channel_name(self, name: str) -> str:
        return self.table.get(f"channel_{name}", name)

    def standard_name(self, name: str) -> str:
        return self.table.get(f"standard_{name}", name)

    def reason_name(self, name: str) -> str:
        return self.table.get(f"reason_{name}", name)

    def lang_name(self, code: str) -> str:
        return self.table.get(f"lang_{code}", code)

    def month(self, day: date) -> str:
        return f"{self.table['month_names'].split()[day.month - 1]} {day.year}"

    def bucket(self, start: date, by: str) -> str:
        if by == "month":
            return self.month(start)
        if by == "week":
            year, week, _ = start.isocalendar()
            return self("week_label", week=week, year=year)
        return start.strftime("%d.%m.%Y")

    def number(self, value: float | int | None, decimals: int = 0) -> str:
        if value is None:
            return "–"
        text = f"{value:,.{decimals}f}".replace(",", "\u00a0").replace(".", ",")
        return text

    def percent(self, value: float | None) -> str:
        return "–" if value is None else f"{self.number(100 * value, 1)}\u00a0%"

    def kroner(self, value: float, currency: str = "NOK") -> str:
        return f"{self.number(value)}\u00a0kr" if currency == "NOK" else f"{self.number(value)} {currency}"

    def duration(self, minutes: float | None) -> str:
        if minutes is None:
            return "–"
        total = int(round(minutes))
        if total < 60:
            return self("minutes", n=total)
        if total < 24 * 60:
            return self("hours_minutes", h=total // 60, m=total % 60)
        return self("days_hours", d=total // (24 * 60), h=(total % (24 * 60)) // 60)

    def promise(self, profile, channel: str) -> str:
        """The promised answer time of a channel of the service standard, in words."""
        try:
            d = profile.standard(channel).answer_within
        except Exception:
            return "–"
        if d.unit == "when_open":
            return self.table["unit_when_open"]
        singular = {"hours": "unit_hour", "working_days": "unit_working_day", "weeks": "unit_week"}
        if d.amount == 1 and d.unit in singular:
            return self.table[singular[d.unit]]
        return self(f"unit_{d.unit}", n=d.amount)
