"""Command `municipality`: add, check and list the municipalities this deployment serves.

    bin/kommunebot municipality add ringerike --name "Ringerike kommune" --standard nb \\
        --number 3305 --phone "32 11 74 00" --email postmottak@ringerike.kommune.no \\
        --website https://www.ringerike.kommune.no
    bin/kommunebot municipality check ringerike      # profile, pages and index; exit 1 on problems
    bin/kommunebot municipality list

`add` writes `municipalities/<slug>.yml` (from a template, or `--from alver` to copy
another municipality's settings) and `knowledge/<slug>/{nn,nb}/`, then checks them and
says what is left to write where. A profile that is not complete stops the servers at
start with the same list, so fill it in before `make run`.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from bot.service.profile import SLUG, ProfileError, default_reference_prefix, load_profile

# Blank facts ("") make the validator list them as "is empty; fill it in".
TEMPLATE = """\
# Municipality profile for {name}: everything the bot says about the municipality's own
# services, opening hours and promised answer times. Made by `bin/kommunebot municipality
# add`; see municipalities/alver.yml for a complete example with comments on every field.
# Check it with `bin/kommunebot municipality check {slug}`.
# Rules: times "HH:MM" in quotes; weekdays mon..sun; durations "N minutes", "N hours",
# "N working days" or "N weeks".

name: {name}
number: "{number}"               # kommunenummer, four digits
written_standard: {standard}     # the municipality's official written standard: nn or nb
default_language: {standard}     # the standard the bot uses before it knows the citizen's
timezone: Europe/Oslo
reference_prefix: {prefix}       # case references: {prefix}-2026-000001 (unique per deployment)
service_name:                    # who answers citizens ("sendt til servicetorget")
  nn: "{service_nn}"
  nb: "{service_nb}"
messenger_page_ids: []           # the Facebook page ids of the municipality, in quotes

contact:
  phone: "{phone}"
  email: "{email}"
  postal_address: ""             # e.g. {name}, Postboks 1, 1234 Stad
  website: "{website}"
  contact_form: ""               # address of the contact form (https://...)
  min_side: ""                   # address of "Min side" (https://...)

# "phone" and "chat": when citizens reach a person; "office": when cases are handled.
opening_hours:
  phone:
    - days: [mon, tue, wed, thu, fri]
      open: ""                   # e.g. "08:00"
      close: ""                  # e.g. "15:30"
  chat:
    - days: [mon, tue, wed, thu, fri]
      open: ""
      close: ""
  office:
    - days: [mon, tue, wed, thu, fri]
      open: ""
      close: ""

service_desks:
  - name: ""                     # e.g. Servicetorget (short name, unique)
    title: ""                    # optional: how sentences name it, e.g. Servicetorget på rådhuset
    place: ""                    # e.g. rådhuset
    address: ""
    hours:
      - days: [mon, tue, wed, thu, fri]
        open: ""
        close: ""

closed_days: []                  # on top of public holidays, e.g. - {{date: "12-24", note: julaftan}}

# The municipality's service standard (promised answer time per channel). The values
# below are a common starting point: replace them with what the municipality promises.
service_standard:
  chat: {{hours: chat, answer_within: 5 minutes, after_hours: email}}
  phone: {{hours: phone, answer_within: when open, callback_within: 1 working day}}
  email: {{hours: office, answer_within: 3 working days}}
  contact_form: {{hours: office, answer_within: 3 working days}}
  letter: {{hours: office, answer_within: 3 working days}}
  messenger: {{hours: office, answer_within: 1 working day, case_processing: false}}
  meeting: {{hours: desks, answer_within: 5 working days}}

case_deadlines:                  # plan- og bygningsloven § 21-7
  building_simple: 3 weeks
  building: 12 weeks

emergency_numbers:
  - {{number: "113", nn: Medisinsk naudhjelp, nb: Medisinsk nødhjelp}}
  - {{number: "112", nn: Politi, nb: Politi}}
  - {{number: "110", nn: Brann, nb: Brann}}
  - {{number: "116 117", nn: Legevakt, nb: Legevakt}}

other_authorities:
  - key: skatteetaten
    name: Skatteetaten
    handles: {{nn: "flyttemelding, adresseendring og skatt", nb: "flyttemelding, adresseendring og skatt"}}
    url: https://www.skatteetaten.no
    phone: "800 80 000"
  - key: nav
    name: NAV
    handles: {{nn: "trygd, stønader og arbeid", nb: "trygd, stønader og arbeid"}}
    url: https://www.nav.no
    phone: "55 55 33 33"
  - key: vegvesen
    name: Statens vegvesen
    handles: {{nn: "førarkort, køyretøy og riksvegar", nb: "førerkort, kjøretøy og riksveier"}}
    url: https://www.vegvesen.no
    phone: "22 07 30 00"

retention:                       # decide with the data protection officer (docs/PRIVACY.md)
  conversations_days: 30
  closed_cases_days: 90
"""

PAGES_README = """\
# Pages of {name}

Write the municipality's pages here, one Markdown file per page and standard:
`nn/<page>.md` (Nynorsk) and `nb/<page>.md` (Bokmål); the same file name in both folders
is the same page. Front matter and writing rules: knowledge/README.md. A page in one
standard only is converted to the other with Apertium when the index is built.

Every municipality also gets the common pages in knowledge/common/; a page here with the
same file name, or with `overrides: <common page>` in its front matter, replaces one.

Then: `bin/kommunebot index --municipality {slug}` and
`bin/kommunebot municipality check {slug}`.
"""


def _error(message: str) -> int:
    print(f"kommunebot municipality: {message}", file=sys.stderr)
    return 2


def add(args: argparse.Namespace) -> int:
    from bot.config import settings

    cfg = settings()
    slug = args.slug
    if not SLUG.match(slug):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", slug.lower().replace("ø", "o").replace("å", "a")
                            .replace("æ", "ae")).strip("-")
        return _error(f"{slug!r} is not a slug: use lower-case letters, digits and hyphens, e.g. {suggestion}")
    if cfg.municipality_file is not None:
        return _error("KOMMUNEBOT_MUNICIPALITY_FILE makes this a one-municipality deployment; unset it to "
                      f"add municipalities in {cfg.municipalities_dir}")
    profile_path = cfg.municipalities_dir / f"{slug}.yml"
    if profile_path.exists():
        return _error(f"{profile_path} exists already; edit it, or check it with "
                      f"`bin/kommunebot municipality check {slug}`")
    name = args.name or f"{slug.replace('-', ' ').title()} kommune"
    if args.copy_from:
        source = cfg.municipalities_dir / f"{args.copy_from}.yml"
        if not source.is_file():
            known = ", ".join(sorted(p.stem for p in cfg.municipalities_dir.glob("*.yml")))
            return _error(f"--from {args.copy_from}: no profile {source}; known: {known}")
        text = _copied_profile(source.read_text(encoding="utf-8"), name, args)
    else:
        standard = args.standard or "nb"
        service = args.service_name or "servicetorget"
        text = TEMPLATE.format(
            slug=slug, name=name, number=args.number or "", standard=standard,
            prefix=args.prefix or _free_prefix(name), service_nn=service, service_nb=service,
            phone=args.phone or "", email=args.email or "", website=args.website or "")
    cfg.municipalities_dir.mkdir(parents=True, exist_ok=True)
    profile_path.write_text(text, encoding="utf-8")
    pages = cfg.knowledge_dir / slug
    for lang in ("nn", "nb"):
        (pages / lang).mkdir(parents=True, exist_ok=True)
    readme = pages / "README.md"
    if not readme.exists():
        readme.write_text(PAGES_README.format(name=name, slug=slug), encoding="utf-8")
    print(f"Wrote {profile_path} and {pages}/nn/, {pages}/nb/.")
    return 0 if check_one(slug, profile_path, pages, quiet_ok=False) else 1


def _copied_profile(text: str, name: str, args: argparse.Namespace) -> str:
    """Another municipality's profile with this one's name, number, contact and prefix."""
    def field(key: str, value: str | None, text: str, indent: str = "") -> str:
        if value is None:
            return text
        pattern = re.compile(rf"^({indent}{key}:[ \t]*)(\"[^\"\n]*\"|[^#\n]*?)([ \t]*(#.*)?)$", re.MULTILINE)
        return pattern.sub(lambda m: f"{m.group(1)}{_quoted(value)}{m.group(3)}", text, count=1)

    text = field("name", name, text)
    text = field("number", args.number or "", text)
    text = field("reference_prefix", args.prefix or _free_prefix(name), text)
    text = field("messenger_page_ids", None, text)
    text = re.sub(r"^messenger_page_ids:.*$", "messenger_page_ids: []", text, count=1, flags=re.MULTILINE)
    for key, value in (("phone", args.phone), ("email", args.email), ("website", args.website)):
        text = field(key, value or "", text, indent="  ")
    for key in ("postal_address", "contact_form", "min_side"):
        text = field(key, "", text, indent="  ")
    if args.standard:
        text = field("written_standard", args.standard, text)
        text = field("default_language", args.standard, text)
    header = ("# Copied from another municipality's profile by `bin/kommunebot municipality add --from`:\n"
              "# every value below except name and contact is still that municipality's. Check each one.\n")
    return header + text


def _quoted(value: str) -> str:
    return '"' + value.replace('"', "'") + '"'


def _free_prefix(name: str) -> str:
    """Three letters from the name, unless another municipality has them already."""
    from bot.service.municipalities import registry

    prefix = default_reference_prefix(name)
    try:
        used = {p.reference_prefix for p in registry()}
    except ProfileError:
        used = set()
    if prefix not in used:
        return prefix
    letters = re.sub(r"[^A-ZÆØÅ]", "", name.upper())
    for candidate in (letters[:2] + c for c in letters[2:] + "XYZ"):
        if candidate not in used:
            return candidate
    return prefix


def check_one(slug: str, profile_path: Path, pages: Path, quiet_ok: bool = True) -> bool:
    """Print what is wrong with one municipality (profile, pages, index); True when nothing is."""
    from bot.config import settings
    from bot.knowledge.documents import load_folder

    problems: list[str] = []
    todo: list[str] = []
    try:
        profile = load_profile(profile_path, slug=slug)
    except ProfileError as exc:
        problems.append(str(exc))
        profile = None
    if not pages.is_dir():
        problems.append(f"{pages}: no folder for the municipality's pages; create {pages}/nn/ and {pages}/nb/")
    else:
        found, skipped = load_folder(pages)
        problems += [f"{pages / s.source}: {s.reason}" for s in skipped if not s.source.lower().endswith("readme.md")]
        for page in found:
            folder = Path(page.source).parts[0]
            if folder in ("nn", "nb") and page.lang and page.lang != folder:
                problems.append(f"{pages / page.source}: front matter says lang: {page.lang} but the page is in "
                                f"{folder}/; move it or fix lang")
        if not found:
            todo.append(f"write the municipality's pages in {pages}/nn/ and {pages}/nb/ (knowledge/README.md)")
    index = settings().index_dir / slug
    if not (index / "manifest.json").is_file():
        todo.append(f"build its index: bin/kommunebot index --municipality {slug} (or make install)")
    if problems:
        print(f"{slug}: NOT READY. Fix these, then run `bin/kommunebot municipality check {slug}`:")
        for problem in problems:
            print("  " + problem.replace("\n", "\n  "))
    elif not quiet_ok or todo:
        status = "profile OK" if profile is not None else "profile missing"
        print(f"{slug}: {status} ({profile.name}, {profile.default_language}, cases {profile.reference_prefix}-...)"
              if profile else f"{slug}: {status}")
    for item in todo:
        print(f"  to do: {item}")
    return not problems


def check(args: argparse.Namespace) -> int:
    from bot.config import settings

    cfg = settings()
    if args.slug:
        slugs = [args.slug]
    else:
        folder = cfg.municipalities_dir
        slugs = sorted(p.stem for p in folder.glob("*.yml")) if folder.is_dir() else []
        if not slugs:
            return _error(f"no profiles in {folder}; add one with `bin/kommunebot municipality add SLUG`")
    ok = True
    for slug in slugs:
        path = cfg.municipalities_dir / f"{slug}.yml"
        if not path.is_file():
            return _error(f"no profile {path}; add it with `bin/kommunebot municipality add {slug}`")
        ok = check_one(slug, path, cfg.knowledge_dir / slug, quiet_ok=False) and ok
    if ok and not args.slug:
        from bot.service.municipalities import registry

        try:  # what only the whole set can show: shared prefixes and Facebook pages
            registry()
        except ProfileError as exc:
            print(f"NOT READY together:\n  {exc}")
            ok = False
    return 0 if ok else 1


def list_(args: argparse.Namespace) -> int:
    from bot.service.municipalities import registry

    try:
        reg = registry()
    except ProfileError as exc:
        return _error(str(exc))
    for profile in reg:
        marker = " (default)" if profile.slug == reg.default_slug else ""
        index = reg.index_dir(profile.slug) / "manifest.json"
        print(f"{profile.slug:<20} {profile.name:<28} {profile.default_language}  {profile.reference_prefix:<5} "
              f"index: {'yes' if index.is_file() else 'no'}{marker}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("municipality", help="add, check or list municipalities",
                                   description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    a = sub.add_parser("add", help="scaffold municipalities/SLUG.yml and knowledge/SLUG/, then check them")
    a.add_argument("slug", help="lower-case letters, digits, hyphens (e.g. nord-fron)")
    a.add_argument("--name", help='the municipality\'s name (default: "<Slug> kommune")')
    a.add_argument("--standard", choices=["nn", "nb"], help="official written standard (default nb)")
    a.add_argument("--number", help="kommunenummer (four digits)")
    a.add_argument("--prefix", help="case reference prefix, 2-5 capital letters (default: from the name)")
    a.add_argument("--service-name", help='who answers citizens (default "servicetorget")')
    a.add_argument("--phone")
    a.add_argument("--email")
    a.add_argument("--website", help="https://...")
    a.add_argument("--from", dest="copy_from", metavar="SLUG",
                   help="copy another municipality's settings (hours, desks, service standard) to edit")
    a.set_defaults(func=add)
    c = sub.add_parser("check", help="check profiles, pages and indexes (all, or one SLUG)")
    c.add_argument("slug", nargs="?")
    c.set_defaults(func=check)
    c2 = sub.add_parser("list", help="the municipalities this deployment serves")
    c2.set_defaults(func=list_)
